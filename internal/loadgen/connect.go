package loadgen

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// RunConnect ramps Conns connections at Rate per second (auth + upgrade
// each), holds them idle for Duration, and reports the connect rate,
// handshake latency percentiles and the server's memory per connection and
// CPU (from /proc/ServerPID or /metrics).
func RunConnect(ctx context.Context, cfg Config) (*Report, error) { return connectCmd(ctx, cfg, nil) }

func connectCmd(ctx context.Context, cfg Config, status progress) (*Report, error) {
	if err := cfg.Validate("connect"); err != nil {
		return nil, err
	}
	e, err := newEngine(&cfg)
	if err != nil {
		return nil, err
	}
	defer e.stop()
	// Fail at once when nothing listens, instead of ramping and holding
	// for the whole run.
	if err := probeListening(ctx, e.d.addr()); err != nil {
		return nil, err
	}
	r := &connectRun{cfg: &cfg, status: status, e: e,
		rep: &Report{Mode: "connect", Config: cfg, Started: time.Now(), ConnsWanted: cfg.Conns}}
	srvA, srvOK := sampleServer(ctx, cfg.ServerPID, e.d.addr())
	cpu := markCPU()
	if err := r.ramp(ctx); err != nil {
		return nil, err
	}
	r.joinRooms(ctx)
	r.hold(ctx)
	if srvOK {
		if srvB, ok := sampleServer(context.Background(), cfg.ServerPID, e.d.addr()); ok {
			r.rep.Server = serverStats(cfg.ServerPID, srvA, srvB, r.rep.ConnsUp)
		}
	}
	r.rep.GeneratorCPU = cpu.since()
	r.evaluate()
	return r.rep, ctx.Err()
}

// connectRun is one connect measurement, phase by phase: ramp (the rooms'
// creators first, then the storm), join, hold, evaluate.
type connectRun struct {
	cfg    *Config
	status progress
	e      *engine
	rep    *Report
	conns  []*lgConn // by slot, the creators first; nil where one never came up
}

// ramp opens every connection at Rate per second and records the ramp
// and the handshake latencies. With rooms, connection i goes to room
// i % Rooms: the rooms' creators come first, so no switch finds its room
// missing; the storm is the rest.
func (r *connectRun) ramp(ctx context.Context) error {
	cfg, e, rep := r.cfg, r.e, r.rep
	rec := newRampRecorder(time.Now(), cfg.Conns, cfg.Rate)
	room := func(int) int { return 0 }
	var creators []*lgConn
	if cfg.Rooms > 1 {
		room = func(i int) int { return (e.idBase + i) % cfg.Rooms }
		if cfg.Compat != CompatCentrifugo { // Centrifugo: subscribing is the join
			var err error
			if creators, err = r.createRooms(ctx, room); err != nil {
				return err
			}
		}
	}
	hs := newHist()
	var last atomic.Int64
	t0 := time.Now()
	conns, errs := e.dialAll(ctx, cfg.Conns-len(creators), cfg.Rate, room, hs, func(up int, took time.Duration) {
		rec.add(up, took)
		if now := time.Now().UnixNano(); now-last.Load() > int64(200*time.Millisecond) {
			last.Store(now)
			r.status.printf("connecting: %d/%d up, %.0f conns/s", up, cfg.Conns, float64(up)/time.Since(t0).Seconds())
		}
	})
	rampTook := time.Since(t0)
	rep.Ramp = rec.finish()
	r.conns = append(creators, conns...)
	rep.ConnsUp = len(liveConns(r.conns))
	rep.ConnectErrors, rep.ConnectError, rep.AuthRefused429 = len(errs), errSummary(errs), count429(errs)
	rep.ConnectPerSec = float64(rep.ConnsUp-len(creators)) / rampTook.Seconds() // the storm, not the rooms' creators
	h := Summarize(hs)
	rep.Handshake = &h
	return nil
}

// createRooms opens the first connection of each room, which creates it
// (stormJoin), and waits for them to be in.
func (r *connectRun) createRooms(ctx context.Context, room func(int) int) ([]*lgConn, error) {
	cfg, e := r.cfg, r.e
	e.onOpen = func(lc *lgConn) []byte { return stormJoin(cfg, lc) }
	creators, errs := e.dialAll(ctx, cfg.Rooms, cfg.Rate, room, nil, nil)
	if len(errs) > 0 {
		return nil, fmt.Errorf("create the %d rooms: %s", cfg.Rooms, errSummary(errs))
	}
	waitJoined(ctx, cfg, creators, 30*time.Second)
	e.idBase = cfg.Rooms
	return creators, nil
}

// joinRooms waits for every connection of a storm into rooms to see its
// own arrival, and counts those that did.
func (r *connectRun) joinRooms(ctx context.Context) {
	if r.cfg.Rooms <= 1 {
		return
	}
	waitJoined(ctx, r.cfg, liveConns(r.conns), 30*time.Second)
	markUnjoined(r.conns, r.rep)
	for _, lc := range r.conns {
		if lc != nil && lc.joined.Load() {
			r.rep.RoomsJoined++
		}
	}
}

// hold keeps the connections idle for Duration (the event loops answer
// pings), noting once a second how many are still up.
func (r *connectRun) hold(ctx context.Context) {
	rep := r.rep
	holdEnd := time.Now().Add(r.cfg.Duration)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for sec := 1; time.Now().Before(holdEnd) && ctx.Err() == nil; sec++ {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		up := rep.ConnsUp - int(r.e.closedN.Load())
		rep.Timeline = append(rep.Timeline, Second{T: sec, ConnsUp: up})
		r.status.printf("holding %d idle connections (%ds of %v)", up, sec, r.cfg.Duration)
	}
}

// evaluate takes the engine's error and close counts and records every
// invariant or threshold the run broke.
func (r *connectRun) evaluate() {
	rep, cfg := r.rep, r.cfg
	rep.ClosedDuringRun = r.e.closedN.Load()
	_, codes, closes := r.e.merged()
	if len(codes) > 0 {
		rep.ErrorCodes = codes
	}
	if len(closes) > 0 {
		rep.CloseCodes = closes
	}
	rep.WallSec = time.Since(rep.Started).Seconds()
	if rep.ConnectErrors > 0 {
		rep.failf("connect: %d of %d connections failed (%s)", rep.ConnectErrors, cfg.Conns, rep.ConnectError)
	}
	if rep.ClosedDuringRun > 0 {
		rep.failf("closed: %d idle connections closed by the server while held (close codes %v)", rep.ClosedDuringRun, rep.CloseCodes)
	}
	if cfg.MinRate > 0 && rep.ConnectPerSec < cfg.MinRate {
		rep.failf("rate: %.0f connections/s below -min-rate %.0f", rep.ConnectPerSec, cfg.MinRate)
	}
}

// stormJoin is what a connection of a connect storm into rooms sends as
// soon as it is up, as the browser page does: the first connection of each
// room creates it, every later one switches into it (its arrival is
// announced to the room), then each lists the room's users.
func stormJoin(cfg *Config, lc *lgConn) []byte {
	typ, key := command.TypeSwitchRoom, "room"
	if lc.id < cfg.Rooms {
		typ, key = command.TypeCreateRoom, "name"
	}
	b := appendFrame(nil, command.OpText, clientCommand(typ, "", key, cfg.roomName(lc.room)))
	return appendFrame(b, command.OpText, clientCommand(command.TypeListUsers, ""))
}

// liveConns drops the slots whose connection failed.
func liveConns(conns []*lgConn) []*lgConn {
	out := make([]*lgConn, 0, len(conns))
	for _, lc := range conns {
		if lc != nil {
			out = append(out, lc)
		}
	}
	return out
}

// probeListening checks that something accepts TCP connections at addr.
func probeListening(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("nothing accepts connections at %s (is the server running?): %w", addr, err)
	}
	return c.Close()
}

// RampPoint is one slice of a connect ramp.
type RampPoint struct {
	T     float64 `json:"t"`                // seconds since the ramp began, at the end of the slice
	Up    int     `json:"up"`               // connections up by then
	N     int     `json:"n"`                // connections that came up in the slice
	P50Ms float64 `json:"handshake_p50_ms"` // handshake (auth + upgrade) latency of the slice's connections
	P99Ms float64 `json:"handshake_p99_ms"` //
}

// rampRecorder slices a ramp into about 50 points. add is called with the
// dialer's lock held, so it needs none of its own.
type rampRecorder struct {
	t0    time.Time
	step  time.Duration
	cur   int
	up    int
	tooks []time.Duration
	pts   []RampPoint
}

func newRampRecorder(t0 time.Time, conns int, rate float64) *rampRecorder {
	expected := time.Duration(float64(conns) / rate * float64(time.Second))
	return &rampRecorder{t0: t0, step: max(100*time.Millisecond, expected/50)}
}

func (r *rampRecorder) add(up int, took time.Duration) {
	for b := int(time.Since(r.t0) / r.step); r.cur < b; r.cur++ {
		r.flush()
	}
	r.up = up
	r.tooks = append(r.tooks, took)
}

func (r *rampRecorder) flush() {
	pt := RampPoint{T: float64(r.cur+1) * r.step.Seconds(), Up: r.up, N: len(r.tooks)}
	if n := len(r.tooks); n > 0 {
		slices.Sort(r.tooks)
		ms := func(q float64) float64 { return float64(r.tooks[int(q*float64(n-1))]) / 1e6 }
		pt.P50Ms, pt.P99Ms = ms(0.5), ms(0.99)
	}
	r.pts = append(r.pts, pt)
	r.tooks = r.tooks[:0]
}

// finish closes the last slice and returns the points.
func (r *rampRecorder) finish() []RampPoint {
	if len(r.tooks) > 0 {
		r.flush()
	}
	return r.pts
}
