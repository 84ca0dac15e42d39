// Command loadgen is the ICS load generator, a thin wrapper around
// internal/loadgen; see "loadgen -h". Example:
//
//	loadgen fanout -addr 127.0.0.1:8080 -conns 1000 -rooms 10 -publishers 10 -rate 10 -size 100 -duration 30s
//
// It owns only process setup (arguments, exit status); it must never hold
// load-generation logic of its own, and it never targets a non-loopback
// address unless given -allow-remote.
package main
