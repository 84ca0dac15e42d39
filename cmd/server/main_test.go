package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ics-chat/ics/internal/admin/cli"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		// Re-executed by startChild: be the server, nothing else.
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m, servertest.LeakOptions()...)
}

// TestSIGTERMDrains runs the real command, sends the process SIGTERM and
// checks every client gets close 1012 and the command exits 0.
func TestSIGTERMDrains(t *testing.T) {
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-http", "127.0.0.1:0", "-admin", "", "-jwt-key", testKey, "-drain-timeout", "5s"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var addr string
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ICS chat server listening on "); ok {
			addr = a
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if addr == "" {
		t.Fatal("server did not print its address")
	}
	var clients []*wstest.Client
	for _, n := range []string{"sig1", "sig2", "sig3"} {
		clients = append(clients, wstest.Dial(t, addr, n))
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if code, _ := c.ExpectClose(t, 5*time.Second); code != 1012 {
			t.Fatalf("%s closed with %d, want 1012", c.Nick, code)
		}
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
}

func TestHelpExplainsFlags(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-h"}, io.Discard, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-http", "-admin", "-shards", "-jwt-key", "-token-ttl", "-max-frame", "-max-backlog", "-drain-timeout", "ICS_", "-jwt-key-file", "-admin-token-file", "healthcheck"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("-h output lacks %q", f)
		}
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	t.Setenv("ICS_SHARDS", "0")
	var out strings.Builder
	if code := run([]string{"-admin", ""}, io.Discard, &out); code != 2 {
		t.Fatalf("exit %d with ICS_SHARDS=0, want 2 (%s)", code, out.String())
	}
	if !strings.Contains(out.String(), "-shards must be > 0") {
		t.Fatalf("error does not name the setting: %s", out.String())
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestRefusesNonLoopbackAdminWithoutToken(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-http", "127.0.0.1:0", "-admin", "0.0.0.0:0", "-jwt-key", testKey}, &out, &errb)
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
		done <- run([]string{"-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-jwt-key", testKey, "-admin-token", "tok"}, pw, &errb)
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

// TestRefusesBadSettings: a setting the server would otherwise ignore or
// misread is refused before it starts, naming the offending value.
func TestRefusesBadSettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown log level", []string{"-log-level", "verbose"}, nil, `-log-level "verbose": want one of debug, info, warn, error`},
		{"unknown log level from env", nil, map[string]string{"ICS_LOG_LEVEL": "loud"}, `-log-level "loud"`},
		{"typo in an ICS_ variable", nil, map[string]string{"ICS_JWTKEY": "secret"}, "unknown environment variable ICS_JWTKEY: no server flag reads it (did you mean ICS_JWT_KEY?)"},
		{"unknown ICS_ variable", nil, map[string]string{"ICS_COLOUR": "blue"}, "unknown environment variable ICS_COLOUR"},
		{"stray argument", []string{"-http", "127.0.0.1:0", "8080"}, nil, `unexpected argument "8080"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errb strings.Builder
			code := run(append([]string{"-admin", ""}, tt.args...), &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("exit %d, want 2 with %q; stderr:\n%s", code, tt.want, errb.String())
			}
			if strings.Contains(errb.String(), "secret") {
				t.Fatalf("the error prints a variable's value:\n%s", errb.String())
			}
			if out.Len() != 0 {
				t.Fatalf("the server started: %s", out.String())
			}
		})
	}
}

// TestAcceptsClientVariables: ICS_* variables other tools read (the admin
// CLI's address, the browser test switch) do not stop the server.
func TestAcceptsClientVariables(t *testing.T) {
	t.Setenv("ICS_ADMIN_ADDR", "127.0.0.1:1")
	t.Setenv("ICS_LOG_LEVEL", "WARN")
	var errb strings.Builder
	// -shards 0 stops it after the environment was checked and applied.
	run([]string{"-http", "127.0.0.1:0", "-admin", "", "-shards", "0"}, io.Discard, &errb)
	if !strings.Contains(errb.String(), "-shards must be > 0") || strings.Contains(errb.String(), "environment") {
		t.Fatalf("stderr:\n%s", errb.String())
	}
}
