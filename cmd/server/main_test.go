package main

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/admin/cli"
)

func noEnv(string) (string, bool) { return "", false }

func TestRefusesNonLoopbackAdminWithoutToken(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-http", "127.0.0.1:0", "-admin", "0.0.0.0:0", "-jwt-key", "k"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "non-loopback") {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
}

// The admin API is served next to the chat server, and a Drain RPC ends the
// process as SIGTERM does.
func TestAdminDrainStopsServer(t *testing.T) {
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-jwt-key", "k", "-admin-token", "tok"}, pw, &errb)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	addr := ""
	for sc.Scan() {
		if a, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "admin API (gRPC): "); ok {
			addr = a
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if addr == "" {
		t.Fatalf("no admin address printed; stderr:\n%s", errb.String())
	}
	var out, cerr bytes.Buffer
	if code := cli.Run([]string{"stats", "-addr", addr}, noEnv, &out, &cerr); code != 1 || !strings.Contains(cerr.String(), "Unauthenticated") {
		t.Fatalf("stats without token: exit %d: %s", code, cerr.String())
	}
	out.Reset()
	if code := cli.Run([]string{"drain", "-addr", addr, "-token", "tok"}, noEnv, &out, &cerr); code != 0 {
		t.Fatalf("drain: exit %d: %s", code, cerr.String())
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("server exited %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server still running 10s after Drain")
	}
}
