// Package web owns the browser chat client: static HTML, CSS and JavaScript
// embedded in the binary and served at / with no build step.
//
// It must never talk to shards or sockets: the page speaks the public
// protocol (POST /auth, then WebSocket /ws) like any other client.
package web
