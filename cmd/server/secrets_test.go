package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/admin/cli"
	"github.com/ics-chat/ics/internal/auth"
	"github.com/ics-chat/ics/internal/wstest"
)

// testKey is a valid (32-byte) token key for the command's tests.
const testKey = "cmd-server-test-key-0123456789ab"

// lockedBuffer collects the server's log, written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is the server command running in this process.
type proc struct {
	http, admin string
	done        chan int
	log         *lockedBuffer
}

// startRun runs the command with args and waits for its banner.
func startRun(t *testing.T, args ...string) *proc {
	t.Helper()
	pr, pw := io.Pipe()
	p := &proc{done: make(chan int, 1), log: &lockedBuffer{}}
	go func() {
		p.done <- run(args, pw, p.log)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for p.admin == "" && sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if a, ok := strings.CutPrefix(line, "ICS chat server listening on "); ok {
			p.http = a
		}
		if a, ok := strings.CutPrefix(line, "admin API (gRPC): "); ok {
			p.admin = a
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if p.http == "" || p.admin == "" {
		code := <-p.done
		t.Fatalf("server did not start (exit %d):\n%s", code, p.log.String())
	}
	return p
}

// drain stops the command through the admin API and checks it exits 0.
func (p *proc) drain(t *testing.T, token string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Run([]string{"drain", "-addr", p.admin, "-token", token}, noEnv, &out, &errb); code != 0 {
		t.Fatalf("drain: exit %d: %s", code, errb.String())
	}
	select {
	case code := <-p.done:
		if code != 0 {
			t.Fatalf("server exited %d:\n%s", code, p.log.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server still running 10s after Drain")
	}
}

func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The key in -jwt-key-file signs the tokens clients get, and those tokens
// log in over the real wire.
func TestJWTKeyFileSignsTokens(t *testing.T) {
	p := startRun(t, "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-jwt-key-file", secretFile(t, testKey+"\n"))
	token, status, err := wstest.Auth(p.http, "filekey")
	if err != nil || status != 201 {
		t.Fatalf("auth: %d %v", status, err)
	}
	iss, _, err := auth.NewIssuer(testKey, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := iss.Verify(token); err != nil || c.Nickname != "filekey" {
		t.Fatalf("token not signed with the file's key: %v %+v", err, c)
	}
	c := wstest.Dial(t, p.http, "filekey2")
	c.Close()
	if strings.Contains(p.log.String(), "random key") {
		t.Fatalf("server warned about a random key although a key file was given:\n%s", p.log.String())
	}
	p.drain(t, "")
}

func TestAdminTokenFileProtectsAdmin(t *testing.T) {
	p := startRun(t, "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-jwt-key", testKey, "-admin-token-file", secretFile(t, "file-token\n"))
	var out, errb bytes.Buffer
	if code := cli.Run([]string{"stats", "-addr", p.admin}, noEnv, &out, &errb); code != 1 || !strings.Contains(errb.String(), "Unauthenticated") {
		t.Fatalf("stats without token: exit %d: %s", code, errb.String())
	}
	if code := cli.Run([]string{"stats", "-addr", p.admin, "-token", "file-token"}, noEnv, &out, &errb); code != 0 {
		t.Fatalf("stats with the file's token: exit %d: %s", code, errb.String())
	}
	p.drain(t, "file-token")
}

// A host-less -admin address (what the container image uses) binds loopback
// when no token protects it.
func TestAdminWithoutHostBindsLoopbackWithoutToken(t *testing.T) {
	p := startRun(t, "-http", "127.0.0.1:0", "-admin", ":0", "-jwt-key", testKey)
	if !strings.HasPrefix(p.admin, "127.0.0.1:") {
		t.Fatalf("admin API on %s, want loopback", p.admin)
	}
	p.drain(t, "")
}

func TestRefusesBadSecrets(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"short key flag", []string{"-jwt-key", "shortkey"}, nil, "-jwt-key is 8 bytes; an HS256 key needs at least 32 bytes"},
		{"short key env", nil, map[string]string{"ICS_JWT_KEY": "k"}, "-jwt-key is 1 bytes"},
		{"short key file", []string{"-jwt-key-file", secretFile(t, "shortkey\n")}, nil, "8-byte key"},
		{"key twice", []string{"-jwt-key", testKey, "-jwt-key-file", secretFile(t, testKey)}, nil, "exclude each other"},
		{"missing token file", []string{"-jwt-key", testKey, "-admin-token-file", "/nonexistent/token"}, nil, "/nonexistent/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := run(append([]string{"-http", "127.0.0.1:0", "-admin", ""}, tt.args...), &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("exit %d, want 2 with %q; stderr:\n%s", code, tt.want, errb.String())
			}
		})
	}
}
