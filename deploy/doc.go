// Package deploy holds the files that run the server outside `go run`: the
// container image (../Dockerfile), a three-node compose cluster
// (compose.yaml) and Kubernetes manifests (k8s/). It has no code of its own;
// its tests decode every manifest strictly and check it against the
// server's own flags and routes, and build and run the image where a Docker
// daemon is available.
//
// It must never be imported by the server: nothing here is part of the
// binary.
package deploy
