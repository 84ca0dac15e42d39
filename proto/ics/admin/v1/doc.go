// Package adminv1 is the generated Go code of the ics.admin.v1 gRPC API
// (admin.proto beside it). It owns nothing at run time; it must never be
// edited by hand: change admin.proto and run `go generate ./proto/...`.
package adminv1
