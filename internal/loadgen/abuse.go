package loadgen

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
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

// scenario is one misbehaving client: it misbehaves on connections of its
// own and says whether the server answered as the protocol requires.
// Scenarios run concurrently while the well-behaved fanout runs.
type scenario interface {
	// Name is how -scenarios selects it and the report names it.
	Name() string
	// Run misbehaves until the server answered, the scenario gave up or
	// ctx ended, and closes every socket it opened before returning.
	Run(ctx context.Context, a *abuser) (pass bool, detail string)
}

// refuser is a scenario that cannot work in some runs: refuse says why
// (a usage error) before the run starts.
type refuser interface {
	refuse(cfg *Config) error
}

// skipper is a scenario that would prove nothing in some runs: skip says
// why it is reported as skipped instead of run ("" = run it).
type skipper interface {
	skip(cfg *Config) string
}

// allScenarios are the abuse scenarios in the order -h and the report
// list them: the client misbehaviours (abuse_clients.go), then the
// attacks (attacks.go).
var allScenarios = []scenario{
	slowReader{}, oversizedFrame{}, malformedJSON{}, commandFlood{}, noPong{}, slowloris{},
	fdExhaustion{}, pipelinedFlood{}, claimFlood{}, pingFlood{}, trickledFrame{}, kickEvasion{},
}

// abuser gives scenarios authenticated raw connections.
type abuser struct {
	e    *engine
	cfg  *Config
	mu   sync.Mutex
	slot int
}

// withConn opens an authenticated connection for the scenario (nick is
// its part of the nickname), runs misbehave on it and closes it.
func (a *abuser) withConn(ctx context.Context, nick string, misbehave func(context.Context, *abuser, net.Conn, *bufReader) (bool, string)) (bool, string) {
	c, r, err := a.conn(ctx, nick)
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	return misbehave(ctx, a, c, r)
}

// addr is the server the scenarios attack (the first node).
func (a *abuser) addr() string { return a.e.d.addr() }

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

// nextDataOrClose is the next text or close frame, skipping pings and
// other control frames.
func (r *bufReader) nextDataOrClose(deadline time.Time) (byte, []byte, error) {
	for {
		op, p, err := r.next(deadline)
		if err != nil || op == command.OpText || op == command.OpClose {
			return op, p, err
		}
	}
}

// waitFor reads frames until match returns true, the server closes (close
// frame code, or -1 for a dropped socket) or the deadline passes.
func (r *bufReader) waitFor(deadline time.Time, match func(op byte, p []byte) bool) (matched bool, code int, err error) {
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
			return false, closeCode(p), nil
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
			// Read everything (the flood must not be a slow consumer),
			// and stop reading when the flooder stops.
			drained := make(chan struct{})
			go func() { drain(c); close(drained) }()
			defer func() { c.Close(); <-drained }()
			frame := appendFrame(nil, command.OpText, clientCommand(command.TypeMessage, "", "body", body))
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
func RunAbuse(ctx context.Context, cfg Config) (*Report, error) { return abuseCmd(ctx, cfg, nil) }

func abuseCmd(ctx context.Context, cfg Config, p progress) (*Report, error) {
	cfg.Rooms = 1
	if err := cfg.Validate("fanout"); err != nil {
		return nil, err
	}
	selected, err := selectScenarios(&cfg)
	if err != nil {
		return nil, err
	}
	for _, sc := range selected {
		if r, ok := sc.(refuser); ok {
			if err := r.refuse(&cfg); err != nil {
				return nil, err
			}
		}
	}
	side := func(ctx context.Context, e *engine) func(*Report) {
		return startScenarios(ctx, &abuser{e: e, cfg: &cfg}, selected)
	}
	return runFanout(ctx, &cfg, "abuse", side, p)
}

// startScenarios runs every scenario of selected on its own goroutine and
// returns the function that waits for them and puts their results in the
// report.
func startScenarios(ctx context.Context, a *abuser, selected []scenario) func(*Report) {
	var (
		mu      sync.Mutex
		results []AbuseResult
		wg      sync.WaitGroup
	)
	for _, sc := range selected {
		if s, ok := sc.(skipper); ok {
			if why := s.skip(a.cfg); why != "" {
				results = append(results, AbuseResult{Name: sc.Name(), Pass: true, Skipped: true, Detail: why})
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := runScenario(ctx, a, sc)
			mu.Lock()
			results = append(results, res)
			mu.Unlock()
		}()
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

// runScenario runs sc and measures it, with the server's CPU and RSS
// where they can be sampled.
func runScenario(ctx context.Context, a *abuser, sc scenario) AbuseResult {
	pid, addr := a.cfg.ServerPID, a.addr()
	start := time.Now()
	before, okB := sampleServer(ctx, pid, addr)
	pass, detail := sc.Run(ctx, a)
	res := AbuseResult{Name: sc.Name(), Pass: pass, Detail: detail, TookSec: time.Since(start).Seconds()}
	if after, okA := sampleServer(context.WithoutCancel(ctx), pid, addr); okB && okA {
		res.Server = serverStats(pid, before, after, 0)
	}
	return res
}

// ScenarioNames lists the abuse scenarios in the order they are defined.
func ScenarioNames() []string {
	names := make([]string, len(allScenarios))
	for i, sc := range allScenarios {
		names[i] = sc.Name()
	}
	return names
}

// selectScenarios is the scenarios -scenarios names, in its order; all
// of them when it is empty.
func selectScenarios(cfg *Config) ([]scenario, error) {
	if strings.TrimSpace(cfg.Scenarios) == "" {
		return allScenarios, nil
	}
	var out []scenario
	for _, name := range strings.Split(cfg.Scenarios, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(allScenarios, func(sc scenario) bool { return sc.Name() == name })
		if i < 0 {
			return nil, usageErr("-scenarios: unknown scenario %q (known: %s)", name, strings.Join(ScenarioNames(), ","))
		}
		out = append(out, allScenarios[i])
	}
	return out, nil
}
