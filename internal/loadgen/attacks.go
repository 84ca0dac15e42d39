package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ics-chat/ics/internal/admin/cli"
	"github.com/ics-chat/ics/internal/command"
)

// The attacks of issue 9, one type per abuse scenario (allScenarios in
// abuse.go registers them): what an unauthenticated (or kicked) client
// could exhaust, and what the server must answer.

// DefaultAbuseSockets is how many idle sockets the fd_exhaustion scenario
// opens (spread over source addresses like the clients).
const DefaultAbuseSockets = 2000

// fdExhaustion opens many idle sockets (more than a server under a small
// open-files limit can hold), then closes them: the server must refuse the
// surplus or make it wait, never stop accepting, and serve new clients once
// they are gone.
type fdExhaustion struct{}

func (fdExhaustion) Name() string { return "fd_exhaustion" }

func (fdExhaustion) Run(ctx context.Context, a *abuser) (bool, string) {
	n := a.cfg.AbuseSockets
	if n <= 0 {
		n = DefaultAbuseSockets
	}
	base := a.cfg.Conns + 100_000 // source slots of their own
	var socks []net.Conn
	defer func() {
		for _, c := range socks {
			c.Close()
		}
	}()
	dialFails := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
		d := a.e.d.netDialer(base + i)
		d.Timeout = 2 * time.Second
		c, err := d.DialContext(ctx, "tcp", a.addr())
		if err != nil {
			dialFails++
			continue
		}
		socks = append(socks, c)
	}
	time.Sleep(time.Second)
	refused := 0
	for _, c := range socks {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		b := make([]byte, 256)
		if k, err := c.Read(b); k > 0 || (err != nil && !isTimeout(err)) {
			refused++ // a 503 at accept, or closed
		}
	}
	for _, c := range socks {
		c.Close()
	}
	socks = nil
	// The check may outlast the run (opening the sockets takes a while):
	// it gets 15 s of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := probe(ctx, a, base+n, "/healthz")
		if err == nil && st == http.StatusOK {
			// And a new chat client gets in.
			c, _, cerr := a.conn(ctx, "afterfd")
			if cerr != nil {
				return false, fmt.Sprintf("%d idle sockets (%d refused or closed, %d dials failed): /healthz ok but a new client failed: %v", n, refused, dialFails, cerr)
			}
			c.Close()
			return true, fmt.Sprintf("%d idle sockets: %d refused or closed by the server, %d dials failed; afterwards /healthz 200 and a new client connected", n, refused, dialFails)
		}
		if time.Now().After(deadline) {
			return false, fmt.Sprintf("%d idle sockets: server not serving 15s after they closed (/healthz %d, %v)", n, st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// probe is one GET path on a fresh socket from source slot i.
func probe(ctx context.Context, a *abuser, i int, path string) (int, error) {
	c, err := a.e.d.netDialer(i).DialContext(ctx, "tcp", a.addr())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, a.addr()); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// pipelinedFlood sends 4,000 pipelined GET /app.js on one socket with a
// tiny receive window, 100 every 50 ms (so each chunk is small enough to be
// served as it arrives), and reads nothing: the server must stop reading
// and close it rather than queue every response (≈ 90 MB).
type pipelinedFlood struct{}

func (pipelinedFlood) Name() string { return "pipelined_flood" }

func (pipelinedFlood) Run(ctx context.Context, a *abuser) (bool, string) {
	d := a.e.d.netDialer(a.cfg.Conns + 99_000)
	d.Control = chainControl(d.Control, func(fd int) { _ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	c, err := d.DialContext(ctx, "tcp", a.addr())
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	const n = 4000
	const chunk = 100
	reqs := []byte(strings.Repeat("GET /app.js HTTP/1.1\r\nHost: "+a.addr()+"\r\n\r\n", chunk))
	wrote := 0
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < n/chunk; i++ {
		k, err := c.Write(reqs)
		wrote += k
		if err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	got := 0
	var rerr error
	for got < n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			rerr = err
			break
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got++
	}
	switch {
	case got == n:
		return false, fmt.Sprintf("all %d pipelined responses were queued for a client that did not read", n)
	case isTimeout(rerr):
		return false, fmt.Sprintf("%d responses, then the socket hung (neither served nor closed)", got)
	}
	return true, fmt.Sprintf("wrote %d of %d request bytes; server queued %d responses, then closed the socket (%v)", wrote, len(reqs)*n/chunk, got, rerr)
}

// chainControl runs f on the socket after prev (a net.Dialer.Control).
func chainControl(prev func(string, string, syscall.RawConn) error, f func(fd int)) func(string, string, syscall.RawConn) error {
	return func(network, address string, rc syscall.RawConn) error {
		if prev != nil {
			if err := prev(network, address, rc); err != nil {
				return err
			}
		}
		return rc.Control(func(fd uintptr) { f(int(fd)) })
	}
}

// claimFlood claims 300 nicknames from one address as fast as it can,
// then once with a foreign Origin: the server must stop granting claims
// early (rate limit or claim cap, 429) and refuse the cross-site one (403).
type claimFlood struct{}

func (claimFlood) Name() string { return "claim_flood" }

func (claimFlood) Run(ctx context.Context, a *abuser) (bool, string) {
	slot := a.cfg.Conns + 98_000
	hc := a.e.d.httpFor(slot)
	granted, limited := 0, 0
	for i := 0; i < 300 && ctx.Err() == nil; i++ {
		st, err := postAuth(ctx, hc, a.addr(), fmt.Sprintf("%s_sq%d", a.cfg.Prefix, i), "")
		if err != nil {
			return false, err.Error()
		}
		switch st {
		case http.StatusCreated:
			granted++
		case http.StatusTooManyRequests:
			limited++
		}
	}
	st, err := postAuth(ctx, hc, a.addr(), a.cfg.Prefix+"_xsite", "https://evil.example")
	if err != nil {
		return false, err.Error()
	}
	detail := fmt.Sprintf("300 claims from one address: %d granted, %d answered 429; cross-site Origin: %d", granted, limited, st)
	return granted <= 64 && limited > 0 && st == http.StatusForbidden, detail
}

func postAuth(ctx context.Context, hc *http.Client, addr, nick, origin string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/auth?nickname="+nick, nil)
	if err != nil {
		return 0, err
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// pingFlood sends 20,000 empty pings as fast as the socket takes them: the
// server must answer at most one pong per read and close with
// CloseRateLimited.
type pingFlood struct{}

func (pingFlood) Name() string { return "ping_flood" }

func (s pingFlood) Run(ctx context.Context, a *abuser) (bool, string) {
	return a.withConn(ctx, "pingfl", s.misbehave)
}

func (pingFlood) misbehave(ctx context.Context, a *abuser, c net.Conn, r *bufReader) (bool, string) {
	const n = 20000
	ping := appendFrame(nil, command.OpPing, nil)
	wrote := make(chan struct{})
	defer func() { c.Close(); <-wrote }()
	go func() {
		defer close(wrote)
		buf := bytes.Repeat(ping, 500)
		for i := 0; i < n/500; i++ {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	pongs := 0
	deadline := time.Now().Add(15 * time.Second)
	for {
		op, p, err := r.next(deadline)
		if err != nil {
			return false, fmt.Sprintf("%d pongs, then %v (want close %d)", pongs, err, command.CloseRateLimited)
		}
		switch op {
		case command.OpPong:
			pongs++
		case command.OpClose:
			code := closeCode(p)
			return code == command.CloseRateLimited && pongs < n/10,
				fmt.Sprintf("%d pongs for up to %d pings, then close %d (want %d)", pongs, n, code, command.CloseRateLimited)
		}
	}
}

// trickledFrame announces a 60,000-byte frame and sends one byte every
// 200 ms: the server must close it (ClosePingTimeout, or CloseGoingAway)
// instead of treating the trickle as liveness.
type trickledFrame struct{}

func (trickledFrame) Name() string { return "trickled_frame" }

func (s trickledFrame) Run(ctx context.Context, a *abuser) (bool, string) {
	return a.withConn(ctx, "trickle", s.misbehave)
}

func (trickledFrame) misbehave(ctx context.Context, a *abuser, c net.Conn, r *bufReader) (bool, string) {
	start := time.Now()
	hdr := appendFrame(nil, command.OpText, make([]byte, 60000))[:14] // header + mask only
	if _, err := c.Write(hdr); err != nil {
		return false, err.Error()
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-stopped }()
	go func() {
		defer close(stopped)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if _, err := c.Write([]byte{'x'}); err != nil {
					return
				}
			}
		}
	}()
	_, code, err := r.waitFor(time.Now().Add(45*time.Second), nil)
	took := time.Since(start).Round(100 * time.Millisecond)
	if closeWanted(code, command.ClosePingTimeout, command.CloseGoingAway) {
		return true, fmt.Sprintf("closed %d after %v of trickling", code, took)
	}
	return false, fmt.Sprintf("not closed %d after %v of trickling (code %d, %v)", command.ClosePingTimeout, took, code, err)
}

// kickEvasion connects, renames, gets kicked (admin API, -admin), and tries
// to come back with the token of its first name: it must be refused (401).
type kickEvasion struct{}

func (kickEvasion) Name() string { return "kick_evasion" }

func (kickEvasion) Run(ctx context.Context, a *abuser) (bool, string) {
	if a.cfg.AdminAddr == "" {
		return true, "skipped: needs -admin (and -admin-token) to kick"
	}
	slot := a.cfg.Conns + 97_000
	nick := a.cfg.Prefix + "_evade"
	tok, err := a.e.d.auth(ctx, slot, nick)
	if err != nil {
		return false, err.Error()
	}
	c, left, err := a.e.d.upgrade(ctx, slot, tok)
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	r := &bufReader{c: c, buf: left}
	renamed := nick + "2"
	_, _ = c.Write(appendFrame(nil, command.OpText, clientCommand(command.TypeSetNick, "", "nickname", renamed)))
	ok, _, err := r.waitFor(time.Now().Add(5*time.Second), func(op byte, p []byte) bool {
		return op == command.OpText && bytes.Contains(p, frameTypeNeedle(command.FrameNick))
	})
	if !ok {
		return false, fmt.Sprintf("setnick not confirmed: %v", err)
	}
	args := []string{"kick", "-addr", a.cfg.AdminAddr, renamed}
	if a.cfg.AdminToken != "" {
		args = append(args, "-token", a.cfg.AdminToken)
	}
	var out, errb strings.Builder
	if cli.Run(args, os.LookupEnv, &out, &errb) != 0 {
		return false, "admin kick failed: " + strings.TrimSpace(errb.String())
	}
	if _, code, _ := r.waitFor(time.Now().Add(5*time.Second), nil); code != command.CloseKicked {
		return false, fmt.Sprintf("kicked connection closed with %d, want %d", code, command.CloseKicked)
	}
	time.Sleep(200 * time.Millisecond)
	c2, _, err := a.e.d.upgrade(ctx, slot, tok)
	if err == nil {
		c2.Close()
		return false, "the first name's token still connects after the kick"
	}
	var ue *UpgradeError
	if !errors.As(err, &ue) || ue.Status != http.StatusUnauthorized {
		return false, fmt.Sprintf("first token after the kick: %v, want 401", err)
	}
	return true, "kicked after a rename; the first name's token is refused (401)"
}
