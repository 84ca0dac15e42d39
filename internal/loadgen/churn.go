package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// ChurnStats counts reconnect cycles of a churn run.
type ChurnStats struct {
	Cycles        int64            `json:"cycles"`         // upgrade, drop and re-auth of the dropped nickname completed
	Failures      int64            `json:"failures"`       // cycles that failed for another reason
	ReauthRefused int64            `json:"reauth_refused"` // re-auth of a dropped nickname still refused after ReauthWait
	Errors        map[string]int64 `json:"errors,omitempty"`

	// Recovery (recover.go): history replies that covered a reconnect's
	// gap with complete:true, messages they filled in, replies that said
	// complete:false, complete:true replies that left a message out (the
	// run fails), and connections to a server without history.
	RecoveryChecks  int64 `json:"recovery_checks"`
	Recovered       int64 `json:"recovered"`
	RecoveryPartial int64 `json:"recovery_partial"`
	RecoveryMissed  int64 `json:"recovery_missed"`
	NoHistory       int64 `json:"no_history,omitempty"`

	cycles, failures, refused                       atomic.Int64
	checks, recovered, partial, missed, unsupported atomic.Int64
	mu                                              sync.Mutex
}

// ReauthWait is how long a churn cycle retries /auth for a nickname whose
// connection it just dropped (the server needs a moment to see the close).
const ReauthWait = 3 * time.Second

func (c *ChurnStats) fail(err error) {
	c.failures.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Errors == nil {
		c.Errors = map[string]int64{}
	}
	c.Errors[truncate(err.Error(), 120)]++
}

// RunChurn runs a fanout (see RunFanout) while a reconnect storm of
// ChurnRate cycles per second hits the same server: each cycle upgrades a
// connection with a fresh token, stays in the first room a random 0–200 ms,
// drops the socket (abruptly or with a close frame) and re-authenticates
// the same nickname, which must succeed within ReauthWait (the nickname was
// freed). Each reconnect asks `history` from the last seq the worker saw in
// its room; a complete:true reply that leaves out a message fails the run
// (recover.go). The fanout's invariants must hold throughout.
func RunChurn(ctx context.Context, cfg Config) (*Report, error) { return churnCmd(ctx, cfg, nil) }

func churnCmd(ctx context.Context, cfg Config, p progress) (*Report, error) {
	if err := cfg.Validate("churn"); err != nil {
		return nil, err
	}
	if cfg.ChurnRate <= 0 {
		return nil, usageErr("-churn-rate %v: must be positive", cfg.ChurnRate)
	}
	stats := &ChurnStats{}
	side := func(ctx context.Context, e *engine) func(*Report) {
		e.churn.Store(stats)
		workers := int(math.Min(math.Max(cfg.ChurnRate/2, 1), 64))
		interval := time.Duration(float64(workers) / cfg.ChurnRate * float64(time.Second))
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				churnWorker(ctx, e, &cfg, stats, w, interval)
			}(w)
		}
		return func(r *Report) {
			wg.Wait()
			stats.Cycles, stats.ReauthRefused = stats.cycles.Load(), stats.refused.Load()
			stats.Failures = stats.failures.Load()
			stats.RecoveryChecks, stats.Recovered = stats.checks.Load(), stats.recovered.Load()
			stats.RecoveryPartial, stats.RecoveryMissed = stats.partial.Load(), stats.missed.Load()
			stats.NoHistory = stats.unsupported.Load()
			r.Churn = stats
			if stats.ReauthRefused > 0 {
				r.failf("churn: %d re-auths of dropped nicknames refused for %v (nickname not freed)", stats.ReauthRefused, ReauthWait)
			}
			if stats.Failures > 0 {
				r.failf("churn: %d reconnect cycles failed: %v", stats.Failures, stats.Errors)
			}
			if stats.RecoveryMissed > 0 {
				r.failf("churn: %d history replies said complete:true but left out messages", stats.RecoveryMissed)
			}
			if stats.Cycles == 0 {
				r.failf("churn: no reconnect cycle completed")
			}
		}
	}
	return runFanout(ctx, &cfg, "churn", side, p)
}

// churner is one churn worker: a nickname of its own that it connects,
// drops and re-authenticates, cycle after cycle, until the run ends.
type churner struct {
	e    *engine
	cfg  *Config
	st   *ChurnStats
	nick string
	slot int       // source slot (a source address of its own)
	rec  *recovery // its room across reconnects
}

func churnWorker(ctx context.Context, e *engine, cfg *Config, st *ChurnStats, w int, interval time.Duration) {
	// A source address of its own beyond the fanout's (a server's /auth
	// rate limit counts per address).
	per := max(cfg.ConnsPerSourceIP, 1)
	c := &churner{e: e, cfg: cfg, st: st, nick: fmt.Sprintf("%s_c%d", cfg.Prefix, w),
		slot: (cfg.Conns+per-1)/per*per + w*per, rec: &recovery{}}
	time.Sleep(time.Duration(rand.Int64N(int64(interval) + 1)))
	tok, err := e.d.auth(ctx, c.slot, c.nick)
	if err != nil {
		if !ended(ctx) {
			st.fail(err)
		}
		return
	}
	next := time.Now()
	defer func() { release(e.d, c.slot, tok) }()
	for ctx.Err() == nil {
		if err := c.visit(ctx, tok); err != nil {
			if !ended(ctx) {
				st.fail(err)
			}
			return
		}
		tok = "" // used
		if tok, err = c.reauth(ctx); err != nil {
			return
		}
		st.cycles.Add(1)
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	}
}

// visit is one connection with tok: into the first room, reading
// everything (the server never sees a slow consumer) and checking the
// reconnect's recovery, then dropped after 0–200 ms, abruptly or with a
// close frame.
func (c *churner) visit(ctx context.Context, tok string) error {
	conn, _, err := c.e.d.upgrade(ctx, c.slot, tok)
	if err != nil {
		return fmt.Errorf("upgrade %s: %w", c.nick, err)
	}
	room := c.cfg.roomName(0)
	if c.cfg.Rooms > 1 {
		_, _ = conn.Write(appendFrame(nil, command.OpText, clientCommand(command.TypeSwitchRoom, "", "room", room)))
	}
	rc := &recoverConn{conn: conn, nick: c.nick, room: room, rec: c.rec, st: c.st, done: make(chan struct{}), ended: make(chan struct{})}
	go rc.read()
	time.Sleep(time.Duration(rand.Int64N(int64(200 * time.Millisecond))))
	select { // let a recovery in flight finish, within reason
	case <-rc.done:
	case <-time.After(time.Second):
	}
	if rand.IntN(2) == 0 {
		_, _ = conn.Write(appendFrame(nil, command.OpClose, closePayload(command.CloseNormal, "")))
	}
	_ = conn.Close()
	<-rc.ended // the next connection's reader takes over rec
	return nil
}

// reauth gets a new token for the nickname just dropped; a refusal that
// outlasts ReauthWait (the nickname was not freed) is counted apart from
// other failures, and either ends the worker.
func (c *churner) reauth(ctx context.Context) (string, error) {
	tok, err := reauth(ctx, c.e.d, c.slot, c.nick)
	switch {
	case err == nil:
		return tok, nil
	case ctx.Err() != nil:
		return "", err
	}
	var ae *AuthError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		c.st.refused.Add(1)
	} else {
		c.st.fail(err)
	}
	return "", err
}

// ended reports whether ctx is over, counting a deadline that has passed
// but whose timer has not fired yet: a socket deadline taken from ctx (the
// handshake's) can expire a moment before ctx.Err() says so, and a cycle
// cut off by the end of the run is not a failed reconnect.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// release spends an unused token on a connection that sends exit, so the
// server frees the nickname now instead of when the token expires.
func release(d *dialer, slot int, tok string) {
	if tok == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, _, err := d.upgrade(ctx, slot, tok)
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = conn.Write(appendFrame(nil, command.OpText, clientCommand(command.TypeExit, "")))
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	for { // until the server closes (exit answers with close 1000) or a second passes
		if _, err := conn.Read(buf); err != nil {
			return
		}
	}
}

func drain(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// reauth retries /auth for nick on 409 until ReauthWait passes.
func reauth(ctx context.Context, d *dialer, slot int, nick string) (string, error) {
	deadline := time.Now().Add(ReauthWait)
	for {
		tok, err := d.auth(ctx, slot, nick)
		var ae *AuthError
		if err == nil || !errors.As(err, &ae) || ae.Status != http.StatusConflict || time.Now().After(deadline) {
			return tok, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
