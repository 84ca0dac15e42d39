package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
)

func TestProtocolViolationsClose(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	tests := []struct {
		name  string
		send  func(c *wstest.Client) error
		close int
	}{
		{"oversize frame announced", func(c *wstest.Client) error {
			// Only the header: the limit is enforced before any payload is buffered.
			return c.WriteHeaderOnly(ws.OpText, 1<<20)
		}, 1009},
		{"oversize fragmented message", func(c *wstest.Client) error {
			chunk := []byte(strings.Repeat("a", 40<<10))
			if err := c.WriteRaw(false, ws.OpText, chunk, true); err != nil {
				return err
			}
			return c.WriteRaw(true, ws.OpContinuation, chunk, true)
		}, 1009},
		{"unmasked frame", func(c *wstest.Client) error {
			return c.WriteRaw(true, ws.OpText, []byte(`{"type":"listrooms"}`), false)
		}, 1002},
		{"invalid utf-8", func(c *wstest.Client) error {
			return c.WriteRaw(true, ws.OpText, []byte("{\"type\":\"message\",\"args\":{\"body\":\"\xff\xfe\"}}"), true)
		}, 1007},
		{"binary frame", func(c *wstest.Client) error {
			return c.WriteRaw(true, ws.OpBinary, []byte{1, 2, 3}, true)
		}, 1003},
		{"reserved opcode", func(c *wstest.Client) error {
			return c.WriteRaw(true, ws.OpCode(0x3), []byte("x"), true)
		}, 1002},
		{"continuation without start", func(c *wstest.Client) error {
			return c.WriteRaw(true, ws.OpContinuation, []byte("x"), true)
		}, 1002},
		{"fragmented ping", func(c *wstest.Client) error {
			return c.WriteRaw(false, ws.OpPing, []byte("x"), true)
		}, 1002},
		{"client close is echoed", func(c *wstest.Client) error {
			return c.WriteRaw(true, ws.OpClose, []byte{0x0f, 0xa0, 'b', 'y', 'e'}, true) // 4000
		}, 4000},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := wstest.Dial(t, addr, "viol"+string(rune('a'+i)))
			if err := tt.send(c); err != nil {
				t.Fatal(err)
			}
			if code, reason := c.ExpectClose(t, 5*time.Second); code != tt.close {
				t.Fatalf("closed with %d %q, want %d", code, reason, tt.close)
			}
		})
	}
}

func TestFragmentedMessageWithInterleavedPing(t *testing.T) {
	srv := start(t, nil)
	c := wstest.Dial(t, srv.Addr().String(), "frag")
	msg := `{"type":"message","args":{"body":"in three parts"}}`
	steps := []func() error{
		func() error { return c.WriteRaw(false, ws.OpText, []byte(msg[:10]), true) },
		func() error { return c.WriteRaw(true, ws.OpPing, []byte("p1"), true) },
		func() error { return c.WriteRaw(false, ws.OpContinuation, []byte(msg[10:30]), true) },
		func() error { return c.WriteRaw(true, ws.OpContinuation, []byte(msg[30:]), true) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	// The pong and the reassembled message, in either order: the pong is
	// queued at the end of the read, the message by the room's shard,
	// which may get there first.
	var pong, message bool
	for !pong || !message {
		f, err := c.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("pong %v, message %v: %v", pong, message, err)
		}
		switch f.Type() {
		case "_pong":
			if pong || f.Str("payload") != "p1" {
				t.Fatalf("pong %v (one, with p1, wanted)", f)
			}
			pong = true
		case "message":
			if message || f.Str("body") != "in three parts" {
				t.Fatalf("got %v", f)
			}
			message = true
		}
	}
}

func TestHandshakeFollowedByFrameInSameWrite(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	tok, _, _ := wstest.Auth(addr, "eager")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /ws?token=" + tok + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	// Request, then a frame, in one write, delivered to the server in
	// small pieces to exercise partial header parsing too.
	var frame strings.Builder
	f := ws.MaskFrame(ws.NewTextFrame([]byte(`{"type":"message","args":{"body":"early bird"}}`)))
	_ = ws.WriteFrame(&writerTo{&frame}, f)
	all := []byte(req + frame.String())
	for i := 0; i < len(all); i += 7 {
		if _, err := conn.Write(all[i:min(i+7, len(all))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c := &wstest.Client{Conn: conn, R: br, Nick: "eager"}
	c.Expect(t, "joined")
	if f := c.Expect(t, "message"); f.Str("body") != "early bird" {
		t.Fatalf("got %v", f)
	}
}

type writerTo struct{ b *strings.Builder }

func (w *writerTo) Write(p []byte) (int, error) { return w.b.Write(p) }

func TestFloodIsRateLimitedThenClosed(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.CommandBurst, c.CommandRate, c.AbuseRejects = 5, 0.5, 20 })
	c := wstest.Dial(t, srv.Addr().String(), "flooder")
	// Over the burst: the excess gets rate_limited errors, the rest is served.
	for i := 0; i < 8; i++ {
		if err := c.Send("listusers", nil, i); err != nil {
			t.Fatal(err)
		}
	}
	users, limited := 0, 0
	for users+limited < 8 {
		f, err := c.Next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case f.Type() == "users":
			users++
		case f.Type() == "error" && f.Str("code") == "rate_limited":
			limited++
		default:
			t.Fatalf("unexpected %v", f)
		}
	}
	if users != 5 || limited != 3 {
		t.Fatalf("%d replies and %d rate_limited errors, want 5 and 3", users, limited)
	}
	// Keep flooding: 20 refusals within the window close the connection.
	for i := 0; i < 30; i++ {
		if err := c.Send("listusers", nil, nil); err != nil {
			break
		}
	}
	if code, _ := c.ExpectClose(t, 5*time.Second); code != 4029 {
		t.Fatalf("closed with %d, want 4029", code)
	}
}

func TestSlowlorisHandshakeDropped(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	// One header byte every 100 ms: never completes in time.
	go func() {
		for _, b := range []byte("GET /ws HTTP/1.1\r\nHost: x\r\nX-Slow: yes") {
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(conn); err != nil && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("dropped after %v, want ~300ms", el)
	}
}

func TestHeaderTooLarge(t *testing.T) {
	srv := start(t, nil)
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 9000) + "\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

func TestSilentClientIsClosedAndNicknameFreed(t *testing.T) {
	// A client that never answers pings looks like a half-open TCP peer.
	srv := start(t, func(c *config.Config) { c.PingInterval, c.PongTimeout = 200*time.Millisecond, 300*time.Millisecond })
	addr := srv.Addr().String()
	c := wstest.Dial(t, addr, "ghost")
	gotPing := false
	for {
		f, err := c.Next(5 * time.Second)
		if err != nil {
			var ce *wstest.CloseError
			if !asClose(err, &ce) || ce.Code != 4000 {
				t.Fatalf("ended with %v, want close 4000", err)
			}
			break
		}
		if f.Type() == "_ping" {
			gotPing = true
		}
	}
	if !gotPing {
		t.Fatal("closed without being pinged first")
	}
	waitFor(t, "ghost to be freed", func() bool { _, st, _ := wstest.Auth(addr, "ghost"); return st == 201 })
}

func TestAnsweringClientStaysConnected(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.PingInterval, c.PongTimeout = 100*time.Millisecond, 200*time.Millisecond })
	c := wstest.Dial(t, srv.Addr().String(), "alive")
	deadline := time.Now().Add(time.Second)
	pings := 0
	for time.Now().Before(deadline) {
		f, err := c.Next(time.Until(deadline))
		if wstest.IsTimeout(err) {
			break
		}
		if err != nil {
			t.Fatalf("connection ended: %v", err)
		}
		if f.Type() == "_ping" {
			pings++
			if err := c.WriteRaw(true, ws.OpPong, nil, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pings < 3 {
		t.Fatalf("%d pings in 1s with a 100ms interval", pings)
	}
}

func TestDisconnectFreesNickname(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	c := wstest.Dial(t, addr, "leaver")
	c.Close()
	waitFor(t, "leaver to be freed", func() bool { _, st, _ := wstest.Auth(addr, "leaver"); return st == 201 })
}

func TestMaxConnsAnswers503(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.MaxConns = 1 })
	addr := srv.Addr().String()
	wstest.Dial(t, addr, "first")
	tok, _, _ := wstest.Auth(addr, "second")
	_, err := wstest.DialToken(addr, tok)
	var de *wstest.DialError
	if !asDial(err, &de) || de.Status != 503 {
		t.Fatalf("err %v, want 503", err)
	}
}
