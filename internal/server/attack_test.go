package server_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/config"
)

// rawConn opens a TCP connection to addr, from src when given (a
// 127.x.y.z address: each is a different client address to the server).
func rawConn(t testing.TB, addr, src string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads what the server sends until it closes or timeout passes.
func readAll(c net.Conn, timeout time.Duration) string {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	b, _ := io.ReadAll(c)
	return string(b)
}

// Sockets past -max-conns-per-ip from one address get 503 and are closed;
// another address is unaffected, and the cap frees as sockets close.
func TestPerAddressSocketCap(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.MaxConnsPerIP = 3 })
	addr := srv.Addr().String()
	var held []net.Conn
	for range 3 {
		held = append(held, rawConn(t, addr, "127.0.0.7"))
	}
	waitFor(t, "3 sockets open", func() bool { return srv.WS().Sockets() == 3 })
	over := rawConn(t, addr, "127.0.0.7")
	got := readAll(over, 2*time.Second)
	if !strings.Contains(got, "503") || !strings.Contains(got, `"`+command.ErrTooManyConnsFromAddr+`"`) {
		t.Fatalf("4th socket from one address got %q, want 503 %s", got, command.ErrTooManyConnsFromAddr)
	}
	if code := get(t, addr, "/healthz"); code != 200 {
		t.Fatalf("other address: /healthz %d", code)
	}
	held[0].Close()
	waitFor(t, "socket released", func() bool { return srv.WS().Sockets() == 2 })
	again := rawConn(t, addr, "127.0.0.7")
	if _, err := again.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readAll(again, 2*time.Second); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("after one socket closed, a new one got %q", got)
	}
}
