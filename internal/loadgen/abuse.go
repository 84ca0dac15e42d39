package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// AbuseResult is the outcome of one misbehaving-client scenario.
type AbuseResult struct {
	Name    string  `json:"name"`
	Pass    bool    `json:"pass"`
	Skipped bool    `json:"skipped,omitempty"`
	Detail  string  `json:"detail"`
	TookSec float64 `json:"took_s"`
	// Server is the server's CPU and RSS over the scenario (with
	// -server-pid or a reachable /metrics); scenarios run concurrently,
	// so select one with -scenarios to attribute them.
	Server *ServerStats `json:"server,omitempty"`
}

// abuseScenario misbehaves on its own connection(s) and says what the
// server did. Scenarios run concurrently while the well-behaved fanout runs.
type abuseScenario struct {
	name string
	run  func(ctx context.Context, a *abuser) (pass bool, detail string)
}

// abuser gives scenarios authenticated raw connections.
type abuser struct {
	e    *engine
	cfg  *Config
	mu   sync.Mutex
	slot int
}

func (a *abuser) conn(ctx context.Context, name string) (net.Conn, *bufReader, error) {
	a.mu.Lock()
	a.slot++
	slot := a.cfg.Conns + 1000 + a.slot
	a.mu.Unlock()
	nick := fmt.Sprintf("%s_a%s", a.cfg.Prefix, name)
	tok, err := a.e.d.auth(ctx, slot, nick)
	if err != nil {
		return nil, nil, err
	}
	c, left, err := a.e.d.upgrade(ctx, slot, tok)
	if err != nil {
		return nil, nil, fmt.Errorf("upgrade %s: %w", nick, err)
	}
	return c, &bufReader{c: c, buf: left}, nil
}

// bufReader reads whole server frames from a blocking connection.
type bufReader struct {
	c   net.Conn
	buf []byte
}

// next returns the next frame (opcode, payload), reading as needed.
func (r *bufReader) next(deadline time.Time) (byte, []byte, error) {
	_ = r.c.SetReadDeadline(deadline)
	tmp := make([]byte, 64<<10)
	for {
		h, ok, err := parseHeader(r.buf)
		if err != nil {
			return 0, nil, err
		}
		if ok && len(r.buf) >= h.hdrLen+h.length {
			p := append([]byte(nil), r.buf[h.hdrLen:h.hdrLen+h.length]...)
			r.buf = r.buf[h.hdrLen+h.length:]
			return h.op, p, nil
		}
		n, err := r.c.Read(tmp)
		r.buf = append(r.buf, tmp[:n]...)
		if err != nil {
			return 0, nil, err
		}
	}
}

// waitFor reads frames until match returns true, the server closes (close
// frame code, or -1 for a dropped socket) or the deadline passes.
func (r *bufReader) waitFor(deadline time.Time, match func(op byte, p []byte) bool) (matched bool, closeCode int, err error) {
	for {
		op, p, err := r.next(deadline)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return false, 0, err
			}
			return false, -1, err
		}
		if match != nil && match(op, p) {
			return true, 0, nil
		}
		if op == command.OpClose {
			code := 1005
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			return false, code, nil
		}
	}
}

func closeWanted(code int, want ...int) bool {
	for _, w := range want {
		if code == w {
			return true
		}
	}
	return false
}

func scenarios(cfg *Config) []abuseScenario {
	return append([]abuseScenario{
		{"slow_reader", func(ctx context.Context, a *abuser) (bool, string) {
			// Never read while helpers fill the room; the server must cut us off with 4008.
			c, r, err := a.conn(ctx, "slow")
			if err != nil {
				return false, err.Error()
			}
			defer c.Close()
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			helpers := startFlooders(ctx, a, 8)
			defer helpers()
			// Stop reading long enough for the backlog to pass the server's
			// limit (1 MiB plus what the kernel buffers: a few MB on
			// loopback), then read: a server that closed us with 4008 keeps
			// the socket open for a while so the close frame can be read.
			stopAt := time.Now().Add(min(cfg.Duration-5*time.Second, 12*time.Second))
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(stopAt)):
			}
			_, code, err := r.waitFor(time.Now().Add(20*time.Second), nil)
			if code == 4008 {
				return true, "closed with 4008 after backlog built up"
			}
			if errors.Is(err, syscall.ECONNRESET) {
				// The 4008 frame sat behind megabytes this reader was
				// too slow to reach; the server reset the connection
				// when its grace ran out. Cut off all the same.
				return true, "connection reset by the server after backlog built up (the 4008 frame was queued behind data never read)"
			}
			return false, fmt.Sprintf("not closed with 4008 (close code %d, err %v)", code, err)
		}},
		{"oversized_frame", func(ctx context.Context, a *abuser) (bool, string) {
			c, r, err := a.conn(ctx, "big")
			if err != nil {
				return false, err.Error()
			}
			defer c.Close()
			body := strings.Repeat("x", 64<<10+100)
			go func() {
				_, _ = c.Write(appendFrame(nil, command.OpText, []byte(`{"type":"message","args":{"body":"`+body+`"}}`)))
			}()
			_, code, err := r.waitFor(time.Now().Add(10*time.Second), nil)
			if code == 1009 {
				return true, "closed with 1009"
			}
			return false, fmt.Sprintf("want close 1009, got code %d (err %v)", code, err)
		}},
		{"malformed_json", func(ctx context.Context, a *abuser) (bool, string) {
			c, r, err := a.conn(ctx, "json")
			if err != nil {
				return false, err.Error()
			}
			defer c.Close()
			_, _ = c.Write(appendFrame(nil, command.OpText, []byte(`{"type":"message","args":`)))
			ok, code, err := r.waitFor(time.Now().Add(5*time.Second), func(op byte, p []byte) bool {
				return op == command.OpText && bytes.Contains(p, []byte(`"bad_json"`))
			})
			if !ok {
				return false, fmt.Sprintf("no error frame with code bad_json (close code %d, err %v)", code, err)
			}
			// the connection must stay open: a valid command still gets an answer
			_, _ = c.Write(appendFrame(nil, command.OpText, []byte(`{"type":"listrooms","id":"after"}`)))
			ok, code, err = r.waitFor(time.Now().Add(5*time.Second), func(op byte, p []byte) bool {
				return op == command.OpText && bytes.Contains(p, []byte(`"after"`))
			})
			if !ok {
				return false, fmt.Sprintf("bad_json reported but connection unusable after it (close code %d, err %v)", code, err)
			}
			return true, "error bad_json, connection stayed open"
		}},
		{"command_flood", func(ctx context.Context, a *abuser) (bool, string) {
			c, r, err := a.conn(ctx, "flood")
			if err != nil {
				return false, err.Error()
			}
			defer c.Close()
			// Lock-step: one command, then its answer. That is still far over
			// 20/s, and the server's receive buffer is empty when it closes, so
			// the close frame is not lost to a TCP reset.
			limited, deadline := 0, time.Now().Add(15*time.Second)
			for i := 0; i < 400; i++ {
				if _, err := c.Write(appendFrame(nil, command.OpText, []byte(`{"type":"listrooms"}`))); err != nil {
					return false, fmt.Sprintf("write failed after %d commands, %d rate_limited, no close 4029: %v", i, limited, err)
				}
				op, p, err := r.next(deadline)
				for err == nil && op != command.OpText && op != command.OpClose {
					op, p, err = r.next(deadline)
				}
				switch {
				case err != nil:
					return false, fmt.Sprintf("after %d commands (%d rate_limited): %v, no close 4029", i+1, limited, err)
				case op == command.OpClose:
					code := 1005
					if len(p) >= 2 {
						code = int(binary.BigEndian.Uint16(p))
					}
					if limited > 0 && code == 4029 {
						return true, fmt.Sprintf("%d rate_limited errors, then close 4029 after %d commands", limited, i+1)
					}
					return false, fmt.Sprintf("closed with %d after %d commands and %d rate_limited errors (want rate_limited, then 4029)", code, i+1, limited)
				case bytes.Contains(p, []byte(`"rate_limited"`)):
					limited++
				}
			}
			return false, fmt.Sprintf("400 commands sent, %d rate_limited, never closed with 4029", limited)
		}},
		{"no_pong", func(ctx context.Context, a *abuser) (bool, string) {
			// The server pings every 25 s and closes 10 s after without a pong.
			c, r, err := a.conn(ctx, "nopong")
			if err != nil {
				return false, err.Error()
			}
			defer c.Close()
			deadline := time.Now().Add(cfg.Duration)
			for {
				op, p, err := r.next(deadline)
				if err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						return false, fmt.Sprintf("still open after %v without answering pings", cfg.Duration)
					}
					return true, "socket dropped: " + err.Error()
				}
				if op == command.OpClose {
					code := 1005
					if len(p) >= 2 {
						code = int(binary.BigEndian.Uint16(p))
					}
					return closeWanted(code, 1001, 4000), fmt.Sprintf("closed with %d (want 1001 or 4000)", code)
				}
			}
		}},
		{"slowloris", func(ctx context.Context, a *abuser) (bool, string) {
			c, err := a.e.d.netDialer(a.cfg.Conns+999).DialContext(ctx, "tcp", a.cfg.Addr)
			if err != nil {
				return false, err.Error()
			}
			defer c.Close()
			start := time.Now()
			_, _ = c.Write([]byte("GET /ws HTTP/1.1\r\nHost: " + a.cfg.Addr + "\r\n"))
			done := make(chan error, 1)
			go func() { _, err := io.Copy(io.Discard, c); done <- err }()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			limit := time.After(20 * time.Second)
			for i := 0; ; i++ {
				select {
				case err := <-done:
					return true, fmt.Sprintf("dropped after %.1fs (%v)", time.Since(start).Seconds(), err)
				case <-limit:
					return false, "handshake still open after 20s of trickled headers"
				case <-ctx.Done():
					return false, "run ended before the server dropped the trickling handshake"
				case <-t.C:
					_, _ = c.Write([]byte(fmt.Sprintf("X-Slow-%d: y\r\n", i)))
				}
			}
		}},
	}, attackScenarios(cfg)...)
}

// startFlooders opens n connections publishing 4000-byte bodies at 19/s
// each (under the 20/s command limit) into the default room, and returns a
// function that stops them.
func startFlooders(ctx context.Context, a *abuser, n int) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	body := strings.Repeat("f", 4000)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, _, err := a.conn(ctx, fmt.Sprintf("fl%d", i))
			if err != nil {
				return
			}
			defer c.Close()
			go drain(c)
			frame := appendFrame(nil, command.OpText, []byte(`{"type":"message","args":{"body":"`+body+`"}}`))
			t := time.NewTicker(time.Second / 19)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if _, err := c.Write(frame); err != nil {
						return
					}
				}
			}
		}(i)
	}
	return func() { cancel(); wg.Wait() }
}

// RunAbuse runs a fanout in the default room (Rooms is forced to 1) while
// misbehaving clients in the same room (those named in Scenarios, or all)
// each try one abuse: a slow reader (expects close 4008; needs Duration ≥
// 15s), an oversized frame (1009), malformed JSON (error bad_json, the
// connection stays open), a command flood (rate_limited, then 4029), a
// client that never answers pings (closed; needs Duration ≥ 40s, else
// skipped), a slowloris handshake (dropped), and the attacks of attacks.go:
// fd_exhaustion, pipelined_flood, claim_flood, ping_flood, trickled_frame
// and kick_evasion (needs -admin). The well-behaved clients must still
// receive everything.
func RunAbuse(ctx context.Context, cfg Config) (*Report, error) {
	cfg.Rooms = 1
	if err := cfg.Validate("fanout"); err != nil {
		return nil, err
	}
	selected, err := selectScenarios(&cfg)
	if err != nil {
		return nil, err
	}
	for _, sc := range selected {
		if sc.name == "slow_reader" && cfg.Duration < 15*time.Second {
			return nil, usageErr("-duration %v: the slow_reader scenario needs at least 15s", cfg.Duration)
		}
	}
	var results []AbuseResult
	var mu sync.Mutex
	side := func(ctx context.Context, e *engine) func(*Report) {
		a := &abuser{e: e, cfg: &cfg}
		var wg sync.WaitGroup
		for _, sc := range selected {
			if sc.name == "no_pong" && cfg.Duration < 40*time.Second {
				results = append(results, AbuseResult{Name: sc.name, Pass: true, Skipped: true, Detail: "skipped: needs -duration ≥ 40s (server pings every 25s, waits 10s)"})
				continue
			}
			wg.Add(1)
			go func(sc abuseScenario) {
				defer wg.Done()
				start := time.Now()
				before, okB := sampleServer(ctx, cfg.ServerPID, cfg.Addr)
				pass, detail := sc.run(ctx, a)
				res := AbuseResult{Name: sc.name, Pass: pass, Detail: detail, TookSec: time.Since(start).Seconds()}
				if after, okA := sampleServer(context.WithoutCancel(ctx), cfg.ServerPID, cfg.Addr); okB && okA {
					res.Server = serverStats(cfg.ServerPID, before, after, 0)
				}
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
			}(sc)
		}
		return func(r *Report) {
			wg.Wait()
			r.Abuse = results
			for _, res := range results {
				if !res.Pass {
					r.failf("abuse %s: %s", res.Name, res.Detail)
				}
			}
		}
	}
	return runFanout(ctx, &cfg, "abuse", side)
}

// ScenarioNames lists the abuse scenarios in the order they are defined.
func ScenarioNames() []string {
	var names []string
	for _, sc := range scenarios(&Config{}) {
		names = append(names, sc.name)
	}
	return names
}

func selectScenarios(cfg *Config) ([]abuseScenario, error) {
	all := scenarios(cfg)
	if strings.TrimSpace(cfg.Scenarios) == "" {
		return all, nil
	}
	var out []abuseScenario
	for _, name := range strings.Split(cfg.Scenarios, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, sc := range all {
			if sc.name == name {
				out = append(out, sc)
				found = true
			}
		}
		if !found {
			return nil, usageErr("-scenarios: unknown scenario %q (known: %s)", name, strings.Join(ScenarioNames(), ","))
		}
	}
	return out, nil
}
