// Package main is the thin command-line wrapper around internal/loadgen.
// It owns only process setup (arguments, exit status); it must never hold
// load-generation logic of its own.
package main
