package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary run the server instead of the tests.
const childEnv = "GO_TEST_ICS_SERVER_CHILD" // not ICS_*: the server refuses ICS_ variables that name no flag

// startChild runs this test binary as the server under `ulimit -n nofile`
// and returns its chat address and a channel closed when it exits.
func startChild(t *testing.T, nofile string, args ...string) (string, <-chan struct{}) {
	t.Helper()
	sh := `ulimit -n "$0" && exec "$@"`
	full := append([]string{"-c", sh, nofile, os.Args[0], "-http", "127.0.0.1:0", "-admin", "", "-jwt-key", "fd-test-key-0123456789abcdef0123456789"}, args...)
	cmd := exec.Command("/bin/sh", full...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	sc := bufio.NewScanner(out)
	addr := ""
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ICS chat server listening on "); ok {
			addr = a
			break
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	if addr == "" {
		t.Fatal("server did not print its address")
	}
	return addr, exited
}

func healthz(addr string) (int, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Idle sockets past RLIMIT_NOFILE must not take the chat port down: with the
// automatic socket budget the surplus is refused with 503 at accept; with a
// budget set above the limit accept(2) hits EMFILE and backs off. Either
// way, once the sockets close the server serves again and never exited.
func TestFDExhaustionDoesNotKillServer(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want503 bool // sockets past the budget are answered 503
	}{
		{"socket budget refuses first", nil, true},
		{"accept backs off on EMFILE", []string{"-max-sockets", "10000"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, exited := startChild(t, "64", append([]string{"-max-conns-per-ip", "0"}, tc.args...)...)
			var socks []net.Conn
			for range 100 {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					t.Fatalf("dial %d: %v", len(socks), err)
				}
				socks = append(socks, c)
			}
			time.Sleep(500 * time.Millisecond) // let the server accept what it can
			refused := 0
			for _, c := range socks {
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				b := make([]byte, 512)
				n, _ := c.Read(b)
				if strings.Contains(string(b[:n]), "503") && strings.Contains(string(b[:n]), "too_many_connections") {
					refused++
				}
			}
			if tc.want503 && refused == 0 {
				t.Error("no socket past the budget was answered 503 too_many_connections")
			}
			select {
			case <-exited:
				t.Fatal("server exited under fd pressure")
			default:
			}
			for _, c := range socks {
				c.Close()
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				code, err := healthz(addr)
				if err == nil && code == http.StatusOK {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/healthz after the sockets closed: %d, %v", code, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
