package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
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

// A client that pipelines requests and never reads the responses gets at
// most about httpOutPause (64 KiB) of them queued: the server stops reading
// its requests, and serves the rest once it reads.
func TestPipelinedFloodIsPaused(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.MaxReqsPerConn = 10000 })
	addr := srv.Addr().String()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 1000 // 22 KiB responses: 22 MB if all were queued
	req := "GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n"
	go func() { _, _ = c.Write([]byte(strings.Repeat(req, n))) }()
	before := metric(t, addr, "ics_http_requests_total")
	time.Sleep(1500 * time.Millisecond)
	served := metric(t, addr, "ics_http_requests_total") - before - 1 // less the scrape
	// 64 KiB queued + what the kernel buffers hold (a few responses).
	t.Logf("served %v of %d while the client did not read", served, n)
	if served > 200 {
		t.Fatalf("served %v of %d pipelined requests to a client that reads nothing", served, n)
	}
	// Reading resumes the pipeline.
	br := bufio.NewReader(c)
	got := 0
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for got < int(served)+20 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("after %d responses: %v", got, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got++
	}
}

// The keep-alive idle deadline restarts after each response, but a socket
// that never upgrades is closed at -http-lifetime, however busy; and the
// -max-requests-per-conn-th response closes the socket.
func TestKeepAliveSocketsEnd(t *testing.T) {
	tests := []struct {
		name     string
		tweak    func(*config.Config)
		every    time.Duration
		maxReqs  int // requests answered before the socket closes (at most)
		maxAlive time.Duration
	}{
		{"lifetime", func(c *config.Config) { c.HandshakeTimeout, c.HTTPLifetime = 600*time.Millisecond, time.Second }, 200 * time.Millisecond, 100, 3 * time.Second},
		{"request cap", func(c *config.Config) { c.MaxReqsPerConn = 3 }, 10 * time.Millisecond, 3, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t, tt.tweak)
			c := rawConn(t, srv.Addr().String(), "")
			br := bufio.NewReader(c)
			start := time.Now()
			answered := 0
			for time.Since(start) < tt.maxAlive+2*time.Second {
				if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
					break
				}
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					break
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				answered++
				if resp.Close {
					_, err := br.ReadByte()
					if err == nil {
						t.Fatal("server sent Connection: close but kept the socket open")
					}
					break
				}
				time.Sleep(tt.every)
			}
			if alive := time.Since(start); alive > tt.maxAlive || answered > tt.maxReqs {
				t.Fatalf("socket lived %v and got %d answers, want at most %v and %d", alive, answered, tt.maxAlive, tt.maxReqs)
			}
		})
	}
}

// A frame trickled byte by byte neither keeps the connection alive nor
// escapes the frame deadline: close 4000 either way.
func TestTrickledFrameIsClosed(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*config.Config)
	}{
		{"frame deadline", func(c *config.Config) { c.FrameTimeout = 500 * time.Millisecond }},
		{"not liveness", func(c *config.Config) { c.PingInterval, c.PongTimeout = 300*time.Millisecond, 300*time.Millisecond }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t, tt.tweak)
			c := wstest.Dial(t, srv.Addr().String(), fmt.Sprintf("trickle%d", i))
			if err := c.WriteHeaderOnly(ws.OpText, 60000); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
						if _, err := c.Conn.Write([]byte{'a'}); err != nil {
							return
						}
					}
				}
			}()
			for {
				_, err := c.Next(5 * time.Second)
				if err == nil {
					continue
				}
				var ce *wstest.CloseError
				if !asClose(err, &ce) || ce.Code != command.ClosePingTimeout {
					t.Fatalf("ended with %v, want close %d", err, command.ClosePingTimeout)
				}
				return
			}
		})
	}
}

// When a loop's delivery queue is full, a connection whose frames do not
// fit is closed 4008 after everything before the gap: it never sees a gap.
func TestLoopQueueOverflowClosesWithoutGap(t *testing.T) {
	srv := start(t, func(c *config.Config) {
		noLimits(c)
		c.Loops, c.Shards, c.LoopQueue, c.FlushInterval = 1, 1, 8, 50*time.Millisecond
	})
	addr := srv.Addr().String()
	rd := wstest.Dial(t, addr, "reader")
	wr := wstest.Dial(t, addr, "writer")
	var burst []byte
	for i := range 500 {
		burst = append(burst, frameBytes(t, fmt.Sprintf(`{"type":"message","args":{"body":"%d"}}`, i))...)
	}
	if _, err := wr.Conn.Write(burst); err != nil {
		t.Fatal(err)
	}
	next := 0
	for {
		f, err := rd.Next(5 * time.Second)
		if err != nil {
			var ce *wstest.CloseError
			if !asClose(err, &ce) || ce.Code != command.CloseSlowConsumer {
				t.Fatalf("after %d messages: %v, want close 4008", next, err)
			}
			break
		}
		if f.Type() != "message" {
			continue
		}
		if f.Str("body") != fmt.Sprint(next) {
			t.Fatalf("got message %q after %d: a gap", f.Str("body"), next)
		}
		next++
	}
	if next == 500 {
		t.Fatal("every message fit: the queue bound was not exercised")
	}
	// The frames that did not fit are counted (before the close that
	// follows them).
	if n := metric(t, addr, "ics_fanout_dropped_total"); n < 1 {
		t.Errorf("ics_fanout_dropped_total = %v after an overflow, want at least 1", n)
	}
}

// frameBytes is p as one masked client text frame.
func frameBytes(t testing.TB, p string) []byte {
	var b bytes.Buffer
	mask := ws.NewMask()
	payload := []byte(p)
	ws.Cipher(payload, mask, 0)
	if err := ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(payload)), Masked: true, Mask: mask}); err != nil {
		t.Fatal(err)
	}
	b.Write(payload)
	return b.Bytes()
}

// Pings count against the command rate limit: a flood is answered with at
// most one pong per read, then closed 4029 like a command flood.
func TestPingFloodIsLimited(t *testing.T) {
	srv := start(t, nil)
	c := wstest.Dial(t, srv.Addr().String(), "pinger")
	var burst []byte
	for range 500 {
		var b bytes.Buffer
		mask := ws.NewMask()
		_ = ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: ws.OpPing, Masked: true, Mask: mask})
		burst = append(burst, b.Bytes()...)
	}
	if _, err := c.Conn.Write(burst); err != nil {
		t.Fatal(err)
	}
	pongs := 0
	_ = c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		h, err := ws.ReadHeader(c.R)
		if err != nil {
			t.Fatalf("after %d pongs: %v, want close 4029", pongs, err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.R, p); err != nil {
			t.Fatal(err)
		}
		switch h.OpCode {
		case ws.OpPong:
			pongs++
		case ws.OpClose:
			if code := int(p[0])<<8 | int(p[1]); code != command.CloseRateLimited {
				t.Fatalf("closed %d, want %d", code, command.CloseRateLimited)
			}
			if pongs > 5 {
				t.Fatalf("%d pongs for 500 pings sent in one write: want one per read", pongs)
			}
			return
		}
	}
}
