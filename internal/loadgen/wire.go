package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ics-chat/ics/internal/command"
)

// appendFrame appends one masked client frame (FIN set) carrying payload to dst.
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[start+i] ^= key[i&3]
	}
	return dst
}

// closePayload builds a close frame payload with code and reason.
func closePayload(code int, reason string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(b, reason...)
}

// closeCode reads the code of a close frame's payload:
// command.CloseNoStatus when it carries none.
func closeCode(p []byte) int {
	if len(p) < 2 {
		return command.CloseNoStatus
	}
	return int(binary.BigEndian.Uint16(p))
}

// clientCommand is the JSON of one client command of type typ with an
// optional id and string arguments given as key, value pairs:
// clientCommand(command.TypeSwitchRoom, "", "room", "r1") is
// {"type":"switchroom","args":{"room":"r1"}}. Values are written as they
// are: the generator only sends names and bodies that need no escaping.
func clientCommand(typ command.Type, id string, kv ...string) []byte {
	b := appendCommandStart(make([]byte, 0, 64), typ)
	if len(kv) > 0 {
		b = append(b, `,"args":{`...)
		for i := 0; i+1 < len(kv); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, kv[i]...)
			b = append(b, `":"`...)
			b = append(b, kv[i+1]...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	if id != "" {
		b = append(b, `,"id":"`...)
		b = append(b, id...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendCommandStart appends the opening of a command of type typ,
// {"type":"message", for the caller to continue.
func appendCommandStart(dst []byte, typ command.Type) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ.String()...)
	return append(dst, '"')
}

// frameTypeNeedle is `"type":"<typ>"`, how a server frame of type typ
// is recognised without decoding it.
func frameTypeNeedle(typ string) []byte { return []byte(`"type":"` + typ + `"`) }

// quoted is s in double quotes, a needle for a JSON string value.
func quoted(s string) []byte { return []byte(`"` + s + `"`) }

// frameHeader is one parsed frame header.
type frameHeader struct {
	fin    bool
	op     byte
	masked bool
	key    [4]byte
	hdrLen int
	length int
}

// errFrameTooLarge is returned for frames larger than the generator accepts.
var errFrameTooLarge = errors.New("server frame larger than 16 MiB")

// parseHeader parses a frame header at the start of b. ok is false when b
// does not yet hold the whole header.
func parseHeader(b []byte) (h frameHeader, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	h.fin = b[0]&0x80 != 0
	h.op = b[0] & 0x0F
	h.masked = b[1]&0x80 != 0
	n := int(b[1] & 0x7F)
	h.hdrLen = 2
	switch n {
	case 126:
		if len(b) < 4 {
			return h, false, nil
		}
		n = int(binary.BigEndian.Uint16(b[2:4]))
		h.hdrLen = 4
	case 127:
		if len(b) < 10 {
			return h, false, nil
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u > 16<<20 {
			return h, false, fmt.Errorf("%w: %d bytes", errFrameTooLarge, u)
		}
		n = int(u)
		h.hdrLen = 10
	}
	if h.masked {
		if len(b) < h.hdrLen+4 {
			return h, false, nil
		}
		copy(h.key[:], b[h.hdrLen:h.hdrLen+4])
		h.hdrLen += 4
	}
	h.length = n
	return h, true, nil
}

// frameSink receives complete messages and control frames from a frameReader.
type frameSink interface {
	onMessage(payload []byte)
	onControl(op byte, payload []byte)
}

// frameReader parses server frames incrementally, reassembling fragmented
// messages. It is not safe for concurrent use.
type frameReader struct {
	frag   []byte
	inFrag bool
}

// feed parses as many complete frames from b as possible, calls sink for
// each, and returns the number of bytes consumed. Payload slices passed to
// sink alias b and are valid only during the call.
func (r *frameReader) feed(b []byte, sink frameSink) (int, error) {
	off := 0
	for {
		h, ok, err := parseHeader(b[off:])
		if err != nil {
			return off, err
		}
		if !ok || len(b)-off < h.hdrLen+h.length {
			return off, nil
		}
		p := b[off+h.hdrLen : off+h.hdrLen+h.length]
		if h.masked {
			for i := range p {
				p[i] ^= h.key[i&3]
			}
		}
		off += h.hdrLen + h.length
		switch {
		case h.op >= command.OpClose:
			sink.onControl(h.op, p)
		case h.op == command.OpContinuation:
			r.frag = append(r.frag, p...)
			if h.fin {
				sink.onMessage(r.frag)
				r.frag, r.inFrag = r.frag[:0], false
			}
		case !h.fin:
			r.frag, r.inFrag = append(r.frag[:0], p...), true
		default:
			sink.onMessage(p)
		}
	}
}

// handshake is the result of a successful auth + upgrade.
type handshake struct {
	conn     net.Conn
	leftover []byte        // bytes read past the 101 response (start of the frame stream)
	took     time.Duration // auth + upgrade latency
	token    string
}

// dialer opens loopback connections spread over source addresses. /auth
// for connection slot i goes out from the same source address as the
// connection, so a server's per-address limits see a realistic spread.
type dialer struct {
	cfg    *Config
	target target // the nodes, resolved from cfg once
	wsPath string

	mu    sync.Mutex
	https map[string]*http.Client // by source address ("" = kernel's choice)
}

func newDialer(cfg *Config) (*dialer, error) {
	t, err := cfg.target()
	if err != nil {
		return nil, err
	}
	return &dialer{cfg: cfg, target: t, wsPath: command.PathWS, https: map[string]*http.Client{}}, nil
}

// addr is the first node: /auth, probes and server samples go there.
func (d *dialer) addr() string { return d.target.nodes[0] }

// httpFor is the keep-alive HTTP client of slot i's source address.
func (d *dialer) httpFor(i int) *http.Client {
	ip := d.srcIP(i)
	key := ""
	if ip != nil {
		key = ip.String()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.https[key]; c != nil {
		return c
	}
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if ip != nil {
		nd = d.netDialer(i)
	}
	tr := &http.Transport{
		MaxIdleConns:        4,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		DialContext:         nd.DialContext,
	}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	d.https[key] = c
	return c
}

func (d *dialer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.https {
		c.CloseIdleConnections()
	}
}

// srcIP picks the local source address for connection i: one loopback
// address per ConnsPerSourceIP connections, starting at 127.0.0.1, so more
// than one address's worth of ephemeral ports can be used.
func (d *dialer) srcIP(i int) net.IP {
	per := d.cfg.ConnsPerSourceIP
	if per <= 0 || !d.target.loopback {
		return nil
	}
	k := (i+d.cfg.ConnOffset)/per + 1 // 1-based host number within 127.0.0.0/8
	return net.IPv4(127, byte(k>>16), byte(k>>8), byte(k))
}

// addrFor is the node connection slot i goes to (-url spreads them).
// Connection i is in room i % Rooms, so the k-th member of every room goes
// to node k % nodes: every room has members on every node.
func (d *dialer) addrFor(i int) string {
	nodes := d.target.nodes
	return nodes[(i/max(d.cfg.Rooms, 1))%len(nodes)]
}

// auth obtains a token for nick from the first node (tokens are valid on
// every node of a cluster), from the source address of slot i.
func (d *dialer) auth(ctx context.Context, i int, nick string) (string, error) {
	return d.authAt(ctx, i, d.addr(), nick)
}

// authAt obtains a token for nick from the node at addr, from the source
// address of slot i.
func (d *dialer) authAt(ctx context.Context, i int, addr, nick string) (string, error) {
	base := "http://" + addr + command.PathAuth
	var req *http.Request
	var err error
	if d.cfg.Compat == CompatSeed {
		form := url.Values{"nickname": {nick}}.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base, strings.NewReader(form))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"?nickname="+url.QueryEscape(nick), nil)
	}
	if err != nil {
		return "", fmt.Errorf("auth %q: build request: %w", nick, err)
	}
	resp, err := d.httpFor(i).Do(req)
	if err != nil {
		return "", fmt.Errorf("auth %q: %w", nick, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("auth %q: read body: %w", nick, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", &AuthError{Nick: nick, Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	var tr struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(body, &tr) == nil && tr.Token != "" {
		return tr.Token, nil
	}
	if tok := strings.Trim(strings.TrimSpace(string(body)), `"`); tok != "" && d.cfg.Compat == CompatSeed {
		return tok, nil // the original server answered with a bare token
	}
	return "", fmt.Errorf("auth %q: status %d but no token in body %q", nick, resp.StatusCode, truncate(string(body), 200))
}

// AuthError is an /auth refusal.
type AuthError struct {
	Nick   string
	Status int
	Body   string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("auth %q: status %d: %s", e.Nick, e.Status, truncate(e.Body, 200))
}

// count429 counts the /auth refusals with 429 Too Many Requests in errs.
func count429(errs []error) int {
	n := 0
	for _, err := range errs {
		var ae *AuthError
		if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// dial authenticates nick and upgrades a fresh TCP connection from source
// slot i to a WebSocket.
func (d *dialer) dial(ctx context.Context, i int, nick string) (*handshake, error) {
	start := time.Now()
	var tok string
	var err error
	if d.cfg.Compat != CompatCentrifugo { // insecure client mode: no token
		if tok, err = d.authAt(ctx, i, d.addrFor(i), nick); err != nil {
			return nil, err
		}
	}
	conn, left, err := d.upgrade(ctx, i, tok)
	if err != nil {
		return nil, fmt.Errorf("upgrade %q: %w", nick, err)
	}
	return &handshake{conn: conn, leftover: left, took: time.Since(start), token: tok}, nil
}

func (d *dialer) netDialer(i int) *net.Dialer {
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if ip := d.srcIP(i); ip != nil {
		nd.LocalAddr = &net.TCPAddr{IP: ip}
		nd.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				// Let connect() pick the port so ports are shared across source IPs.
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	return nd
}

// upgrade dials and performs the WebSocket opening handshake with tok.
func (d *dialer) upgrade(ctx context.Context, i int, tok string) (net.Conn, []byte, error) {
	addr := d.addrFor(i)
	conn, err := d.netDialer(i).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	path, proto := d.wsPath, d.subprotocol(tok)
	if d.cfg.Compat == CompatCentrifugo {
		path, proto = centrifugoPath, ""
	}
	left, err := clientHandshake(ctx, conn, addr, path, proto, d.cfg.Compat == "")
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, left, nil
}

func (d *dialer) subprotocol(tok string) string {
	if d.cfg.Compat == CompatSeed {
		return tok
	}
	return command.Subprotocol + ", " + tok
}

var wsGUID = []byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11")

// clientHandshake writes the upgrade request on conn and reads the 101
// response, returning any bytes read past it. With strictEcho the response
// must echo one of the offered subprotocols, as browsers require.
func clientHandshake(ctx context.Context, conn net.Conn, host, path, proto string, strictEcho bool) ([]byte, error) {
	var keyRaw [16]byte
	binary.LittleEndian.PutUint64(keyRaw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(keyRaw[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(keyRaw[:])
	deadline := time.Now().Add(10 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", path, host, key)
	if proto != "" {
		fmt.Fprintf(&req, "Sec-WebSocket-Protocol: %s\r\n", proto)
	}
	req.WriteString("\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, fmt.Errorf("write upgrade request: %w", err)
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("read upgrade response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, &UpgradeError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	h := sha1.New()
	h.Write([]byte(key))
	h.Write(wsGUID)
	if want := base64.StdEncoding.EncodeToString(h.Sum(nil)); resp.Header.Get("Sec-WebSocket-Accept") != want {
		return nil, fmt.Errorf("bad Sec-WebSocket-Accept %q, want %q", resp.Header.Get("Sec-WebSocket-Accept"), want)
	}
	if strictEcho && proto != "" {
		echo := resp.Header.Get("Sec-WebSocket-Protocol")
		offered := false
		for _, p := range strings.Split(proto, ",") {
			offered = offered || strings.TrimSpace(p) == echo
		}
		if !offered {
			return nil, fmt.Errorf("101 response echoed subprotocol %q, want one of %q (browsers refuse this)", echo, proto)
		}
	}
	if n := br.Buffered(); n > 0 {
		left, _ := br.Peek(n)
		return append([]byte(nil), left...), nil
	}
	return nil, nil
}

// UpgradeError is a refused WebSocket upgrade.
type UpgradeError struct {
	Status int
	Body   string
}

func (e *UpgradeError) Error() string {
	return "upgrade refused: status " + strconv.Itoa(e.Status) + ": " + truncate(e.Body, 200)
}
