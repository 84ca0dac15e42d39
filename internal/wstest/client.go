package wstest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/ics-chat/ics/internal/command"
)

// Auth asks the server at addr for a token for nick.
func Auth(addr, nick string) (token string, status int, err error) {
	resp, err := http.Post("http://"+addr+"/auth?nickname="+url.QueryEscape(nick), "", nil)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
		Code  string `json:"code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Token, resp.StatusCode, nil
}

// Client is one WebSocket connection.
type Client struct {
	Conn     net.Conn
	R        *bufio.Reader
	Nick     string
	Token    string
	Protocol string // subprotocol the server echoed
	Joined   Frame  // the client's own first `joined` (set by Dial)
}

// DialError is a refused upgrade.
type DialError struct{ Status int }

func (e *DialError) Error() string { return fmt.Sprintf("upgrade refused with HTTP %d", e.Status) }

// DialToken upgrades with the token offered as "ics.v1, TOKEN".
func DialToken(addr, token string) (*Client, error) {
	return DialProtocols(addr, command.PathWS, []string{command.Subprotocol, token})
}

// DialProtocols upgrades target (path and query) offering protocols.
func DialProtocols(addr, target string, protocols []string) (*Client, error) {
	return DialHeader(addr, target, protocols, nil)
}

// DialHeader is DialProtocols with extra request headers.
func DialHeader(addr, target string, protocols []string, header http.Header) (*Client, error) {
	d := ws.Dialer{Protocols: protocols, Timeout: 5 * time.Second}
	if header != nil {
		d.Header = ws.HandshakeHeaderHTTP(header)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, hs, err := d.Dial(ctx, "ws://"+addr+target)
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			return nil, &DialError{Status: int(se)}
		}
		return nil, err
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	return &Client{Conn: conn, R: br, Protocol: hs.Protocol}, nil
}

// Dial authenticates nick and connects; it fails the test on any error and
// waits for the client's own "joined global" event.
func Dial(t testing.TB, addr, nick string) *Client {
	t.Helper()
	token, status, err := Auth(addr, nick)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("auth %q: status %d, err %v", nick, status, err)
	}
	c, err := DialToken(addr, token)
	if err != nil {
		t.Fatalf("dial %q: %v", nick, err)
	}
	c.Nick, c.Token = nick, token
	t.Cleanup(func() { c.Conn.Close() })
	f := c.Expect(t, "joined")
	if f.Str("nickname") != nick {
		t.Fatalf("%s: first event is %v, want own joined", nick, f)
	}
	c.Joined = f
	return c
}

// Frame is a decoded server text frame.
type Frame map[string]any

// Str returns field k as a string ("" when absent).
func (f Frame) Str(k string) string { s, _ := f[k].(string); return s }

// Type is the frame's type.
func (f Frame) Type() string { return f.Str("type") }

// Seq is the frame's `seq` (JSON numbers decode as float64; seqs in tests
// are small); the test fails when the frame has none.
func (f Frame) Seq(t testing.TB) uint64 {
	t.Helper()
	v, ok := f["seq"].(float64)
	if !ok {
		t.Fatalf("frame without a numeric seq: %v", f)
	}
	return uint64(v)
}

// Strings returns array field k.
func (f Frame) Strings(k string) []string {
	arr, _ := f[k].([]any)
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// Send writes a command as a masked text frame.
func (c *Client) Send(typ string, args map[string]any, id any) error {
	m := map[string]any{"type": typ}
	if args != nil {
		m["args"] = args
	}
	if id != nil {
		m["id"] = id
	}
	b, _ := json.Marshal(m)
	return c.SendText(b)
}

// SendText writes p as one masked text frame.
func (c *Client) SendText(p []byte) error {
	return c.WriteRaw(true, ws.OpText, p, true)
}

// WriteRaw writes one frame exactly as asked (masked or not).
func (c *Client) WriteRaw(fin bool, op ws.OpCode, p []byte, masked bool) error {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(p)), Masked: masked}
	payload := append([]byte(nil), p...)
	if masked {
		h.Mask = ws.NewMask()
		ws.Cipher(payload, h.Mask, 0)
	}
	if err := ws.WriteHeader(c.Conn, h); err != nil {
		return err
	}
	_, err := c.Conn.Write(payload)
	return err
}

// WriteHeaderOnly writes a masked frame header announcing length bytes
// without any payload (to test limits enforced before buffering).
func (c *Client) WriteHeaderOnly(op ws.OpCode, length int64) error {
	return ws.WriteHeader(c.Conn, ws.Header{Fin: true, OpCode: op, Length: length, Masked: true, Mask: ws.NewMask()})
}

// CloseError is a close frame received from the server.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string { return fmt.Sprintf("closed by server: %d %q", e.Code, e.Reason) }

// Next reads the next frame (answering nothing by itself). Text frames are
// decoded; a close frame returns *CloseError; pings are returned as a Frame
// with type "_ping".
func (c *Client) Next(timeout time.Duration) (Frame, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(timeout))
	h, err := ws.ReadHeader(c.R)
	if err != nil {
		return nil, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.R, p); err != nil {
		return nil, err
	}
	switch h.OpCode {
	case ws.OpClose:
		ce := &CloseError{Code: 1005}
		if len(p) >= 2 {
			ce.Code = int(binary.BigEndian.Uint16(p))
			ce.Reason = string(p[2:])
		}
		return nil, ce
	case ws.OpPing:
		return Frame{"type": "_ping", "payload": string(p)}, nil
	case ws.OpPong:
		return Frame{"type": "_pong", "payload": string(p)}, nil
	case ws.OpText:
		var f Frame
		if err := json.Unmarshal(p, &f); err != nil {
			return nil, fmt.Errorf("server sent invalid JSON %q: %w", p, err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("unexpected opcode %v", h.OpCode)
}

// Expect reads the next frame and fails unless it has type typ.
func (c *Client) Expect(t testing.TB, typ string) Frame {
	t.Helper()
	f, err := c.Next(5 * time.Second)
	if err != nil {
		t.Fatalf("%s: waiting for %q: %v", c.Nick, typ, err)
	}
	if f.Type() != typ {
		t.Fatalf("%s: got %v, want type %q", c.Nick, f, typ)
	}
	return f
}

// ExpectClose reads frames until a close frame and returns its code; it
// fails if the socket ends without one or takes longer than timeout.
func (c *Client) ExpectClose(t testing.TB, timeout time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.Next(time.Until(deadline))
		var ce *CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		if err != nil {
			t.Fatalf("%s: waiting for close: %v", c.Nick, err)
		}
	}
}

// Until reads frames until one has type typ, returning it and those skipped.
func (c *Client) Until(t testing.TB, typ string) (Frame, []Frame) {
	t.Helper()
	var skipped []Frame
	for {
		f, err := c.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: waiting for %q (skipped %v): %v", c.Nick, typ, skipped, err)
		}
		if f.Type() == typ {
			return f, skipped
		}
		skipped = append(skipped, f)
	}
}

// Close closes the socket without a close frame.
func (c *Client) Close() error { return c.Conn.Close() }

// IsTimeout reports whether err is a read timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
