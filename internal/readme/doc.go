// Package readme holds no code: its test keeps the repository's README.md
// runnable as written. It extracts the README's shell code blocks and its
// inline `go run …` commands, checks that every command names a program a
// fresh clone has (no bare `loadgen …`), that every path and package it names
// exists, and runs the cheap ones: each `go run ./cmd/…` and `./server …`
// line is run with -h appended, which parses all its flags and arguments
// without starting anything.
//
// It must never start a server, open a network connection or write into
// the repository.
package readme
