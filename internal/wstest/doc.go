// Package wstest is a real WebSocket client for tests: it authenticates over
// HTTP, upgrades over a real loopback socket and reads and writes raw frames,
// including the malformed ones a hostile client would send.
//
// It owns only its own socket. It must never be imported by non-test code.
package wstest
