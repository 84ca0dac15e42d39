// Package bench holds the repository's go test -bench benchmarks (command
// decoding with fastjson, sonic and encoding/json; the kernel loopback write
// ceiling; end-to-end fan-out through the gorilla baseline) and RESULTS.md.
//
// It owns measurement only. It must never be imported by server code, and
// its benchmarks must cost nothing in a plain go test run: everything heavy
// lives in Benchmark functions.
package bench
