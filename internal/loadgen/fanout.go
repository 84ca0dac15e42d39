package loadgen

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ics-chat/ics/internal/command"
)

// RunFanout runs one fan-out measurement: Conns connections spread over
// Rooms rooms, Publishers per room publishing open-loop at Rate messages/s
// each for Duration, then waits up to Drain for in-flight messages. The
// returned error is for runs that could not be set up; invariant failures
// (loss, duplicates, reordering, thresholds) are in Report.Failures.
func RunFanout(ctx context.Context, cfg Config) (*Report, error) { return fanoutCmd(ctx, cfg, nil) }

func fanoutCmd(ctx context.Context, cfg Config, p progress) (*Report, error) {
	if err := cfg.Validate("fanout"); err != nil {
		return nil, err
	}
	return runFanout(ctx, &cfg, "fanout", nil, p)
}

// sidecar runs alongside the publishing phase and adds to the report when
// the returned function is called after publishing stopped.
type sidecar func(ctx context.Context, e *engine) (finish func(*Report))

// pubState is one publisher's schedule.
type pubState struct {
	lc     *lgConn
	id     int
	phase  int64 // offset of message 0 from the run start, ns
	next   int64 // intended send time of the next message, unix ns
	seq    uint64
	sent   atomic.Uint64
	failed uint64
}

type pubHeap []*pubState

func (h pubHeap) Len() int           { return len(h) }
func (h pubHeap) Less(i, j int) bool { return h[i].next < h[j].next }
func (h pubHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pubHeap) Push(x any)        { *h = append(*h, x.(*pubState)) }
func (h *pubHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// fanoutRun is one fan-out measurement, taken phase by phase: connect,
// join, settle, schedule, publish (with the sidecar and the measurement
// beside it), drain, collect, evaluate. Each phase is a method that reads
// what the phases before it left here.
type fanoutRun struct {
	cfg    *Config
	mode   string
	side   sidecar
	status progress
	e      *engine
	rep    *Report

	conns   []*lgConn   // by connection slot; nil where it never came up
	members []uint64    // connections confirmed in each room
	pubs    []*pubState // by publisher id (room*Publishers + k)
	queue   pubHeap     // the connected publishers, earliest next send first
	start   int64       // publishing window, unix ns: [start, end)
	end     int64
	sent    atomic.Uint64           // messages sent so far (the timeline samples it)
	lag     *hdrhistogram.Histogram // actual send time − intended send time
}

func runFanout(ctx context.Context, cfg *Config, mode string, side sidecar, status progress) (*Report, error) {
	r := &fanoutRun{cfg: cfg, mode: mode, side: side, status: status,
		rep: &Report{Mode: mode, Config: *cfg, Started: time.Now(), ConnsWanted: cfg.Conns}}
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	defer e.stop()
	r.e = e
	if err := r.connect(ctx); err != nil {
		return r.rep, err
	}
	if err := r.join(ctx); err != nil {
		return r.rep, err
	}
	r.settle(ctx)
	r.schedule()
	m := r.startMeasuring(ctx)
	r.publish(ctx)
	expected := r.drain(ctx)
	m.finish(r)
	r.collect(expected)
	r.evaluate()
	r.rep.WallSec = time.Since(r.rep.Started).Seconds()
	return r.rep, ctx.Err()
}

// connect opens every connection at ConnectRate; a run with none up
// cannot go on.
func (r *fanoutRun) connect(ctx context.Context) error {
	cfg, rep := r.cfg, r.rep
	var lastStatus atomic.Int64
	conns, errs := r.e.dialAll(ctx, cfg.Conns, cfg.ConnectRate, func(i int) int { return i % cfg.Rooms }, nil, func(up int, _ time.Duration) {
		if now := time.Now().UnixNano(); now-lastStatus.Load() > int64(200*time.Millisecond) {
			lastStatus.Store(now)
			r.status.printf("connecting: %d/%d up", up, cfg.Conns)
		}
	})
	r.conns = conns
	rep.ConnectErrors, rep.ConnectError, rep.AuthRefused429 = len(errs), errSummary(errs), count429(errs)
	rep.ConnsUp = len(liveConns(conns))
	if rep.ConnectErrors > 0 {
		rep.failf("connect: %d of %d connections failed (%s)", rep.ConnectErrors, cfg.Conns, rep.ConnectError)
	}
	if rep.ConnsUp == 0 {
		return fmt.Errorf("no connection to %s came up: %s", r.e.d.addr(), rep.ConnectError)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fanout setup: %w", err)
	}
	return nil
}

// join moves the connections into their rooms: the first connection of
// each room creates it, the rest switch in.
func (r *fanoutRun) join(ctx context.Context) error {
	return setupRooms(ctx, r.cfg, r.conns, r.status)
}

// settle waits for the membership events (joined/left, O(room size²)
// frames in total) to drain before publishing, or they would queue ahead
// of the measured messages; then it counts each room's confirmed members.
func (r *fanoutRun) settle(ctx context.Context) {
	settleStart := time.Now()
	settle(ctx, r.e, r.cfg.Settle, r.status)
	r.rep.SettleSec = time.Since(settleStart).Seconds()
	markUnjoined(r.conns, r.rep)
	r.members = make([]uint64, r.cfg.Rooms)
	for _, lc := range r.conns {
		if lc != nil && lc.room >= 0 {
			r.members[lc.room]++
		}
	}
}

// schedule fixes the publishing window and gives every publisher a
// random start phase within its period; publisher k of room r is
// connection r + Rooms*k.
func (r *fanoutRun) schedule() {
	cfg := r.cfg
	R, P := cfg.Rooms, cfg.Publishers
	period := float64(time.Second) / cfg.Rate
	r.start = r.e.nowNs() + int64(100*time.Millisecond)
	r.end = r.start + int64(cfg.Duration)
	r.e.measureFrom.Store(r.start + int64(cfg.Warmup))
	r.pubs = make([]*pubState, R*P)
	r.queue = make(pubHeap, 0, len(r.pubs))
	for room := 0; room < R; room++ {
		for k := 0; k < P; k++ {
			id := room*P + k
			phase := int64(rand.Float64() * period)
			ps := &pubState{id: id, phase: phase, next: r.start + phase}
			r.pubs[id] = ps
			if lc := r.conns[room+R*k]; lc != nil && lc.room == room {
				ps.lc = lc
				r.queue = append(r.queue, ps)
			}
		}
	}
	if len(r.queue) < len(r.pubs) {
		r.rep.failf("publishers: only %d of %d publishers are connected and in their room", len(r.queue), len(r.pubs))
	}
	heap.Init(&r.queue)
}

// publish runs the open-loop schedule until the window ends, with the
// sidecar (churn, abuse) running beside it: every message goes out at (or
// as soon as possible after) its intended time, which it carries; latency
// is measured from the intended time, so sender stalls show up as latency.
func (r *fanoutRun) publish(ctx context.Context) {
	pubCtx, pubCancel := context.WithDeadline(ctx, time.Unix(0, r.end))
	var finishSide func(*Report)
	if r.side != nil {
		finishSide = r.side(pubCtx, r.e)
	}
	r.lag = newHist()
	buf := make([]byte, 0, r.cfg.Size+256)
	for r.queue.Len() > 0 && ctx.Err() == nil {
		ps := r.queue[0]
		if ps.next >= r.end {
			heap.Pop(&r.queue)
			continue
		}
		now := r.e.nowNs()
		if wait := ps.next - now; wait > 0 {
			time.Sleep(time.Duration(min(wait, int64(50*time.Millisecond))))
			continue
		}
		buf = r.sendNext(ps, now, buf)
		heap.Fix(&r.queue, 0)
	}
	pubCancel()
	if finishSide != nil {
		finishSide(r.rep)
	}
}

// sendNext sends ps's message due at or before now and schedules its
// next one; buf is scratch space, returned for reuse.
func (r *fanoutRun) sendNext(ps *pubState, now int64, buf []byte) []byte {
	cfg := r.cfg
	if ps.next >= r.e.measureFrom.Load() {
		recordNs(r.lag, now-ps.next)
	}
	if cfg.Compat == CompatCentrifugo {
		buf = appendCentrifugoPublish(buf[:0], cfg, ps.lc.room, ps.id, ps.seq, ps.next)
	} else {
		buf = appendMessage(buf[:0], cfg, ps.lc.nick, ps.id, ps.seq, ps.next)
	}
	if err := ps.lc.send(buf); err != nil {
		ps.failed++
	} else {
		ps.seq++
		ps.sent.Store(ps.seq)
		r.sent.Add(1)
	}
	period := float64(time.Second) / cfg.Rate
	ps.next = r.start + ps.phase + int64(math.Round(float64(ps.seq+ps.failed)*period))
	return buf
}

// drain waits until every expected delivery arrived or Drain passed, and
// returns how many were expected: each sent message once per member of
// its room.
func (r *fanoutRun) drain(ctx context.Context) uint64 {
	var expected uint64
	for _, ps := range r.pubs {
		if ps.lc != nil {
			expected += ps.sent.Load() * r.members[ps.lc.room]
		}
	}
	drainEnd := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(drainEnd) && ctx.Err() == nil {
		if d, _ := r.e.totals(); d >= expected {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return expected
}

// measurement is what runs beside publishing and draining: the
// generator's CPU, the server's (when it can be sampled) and the timeline.
type measurement struct {
	cpu    cpuMark
	srvA   ServerSample
	srvOK  bool
	tlDone chan struct{}
	tlWG   sync.WaitGroup
}

func (r *fanoutRun) startMeasuring(ctx context.Context) *measurement {
	m := &measurement{cpu: markCPU(), tlDone: make(chan struct{})}
	m.srvA, m.srvOK = sampleServer(ctx, r.cfg.ServerPID, r.e.d.addr())
	m.tlWG.Add(1)
	go func() {
		defer m.tlWG.Done()
		r.rep.Timeline = timeline(r.e, &r.sent, r.rep.ConnsUp, r.start, m.tlDone, r.status)
	}()
	return m
}

// finish stops the timeline and puts the CPU figures in the report.
func (m *measurement) finish(r *fanoutRun) {
	close(m.tlDone)
	m.tlWG.Wait()
	r.rep.GeneratorCPU = m.cpu.since()
	if m.srvOK {
		if srvB, ok := sampleServer(context.Background(), r.cfg.ServerPID, r.e.d.addr()); ok {
			r.rep.Server = serverStats(r.cfg.ServerPID, m.srvA, srvB, 0)
		}
	}
}

// collect sums what every receiver saw of every publisher of its room,
// and the engine's latency, error and close counts.
func (r *fanoutRun) collect(expected uint64) {
	rep, P := r.rep, r.cfg.Publishers
	rep.ClosedDuringRun = r.e.closedN.Load()
	rep.Expected = expected
	for _, ps := range r.pubs {
		rep.Sent += ps.sent.Load()
		rep.Unsent += ps.failed
	}
	for _, lc := range r.conns {
		if lc == nil || lc.room < 0 {
			continue
		}
		lc.sh.mu.Lock()
		for k := range lc.streams {
			ps := r.pubs[lc.room*P+k]
			if ps.lc == nil {
				continue
			}
			s := &lc.streams[k]
			rep.Delivered += s.Unique
			rep.Lost += s.Lost(ps.sent.Load())
			rep.Dup += s.Dup
			rep.Reordered += s.Reordered
		}
		lc.sh.mu.Unlock()
	}
	rep.Restart = checkRestart(r.conns)
	hist, codes, closes := r.e.merged()
	rep.Latency = Summarize(hist)
	rep.SendLag = Summarize(r.lag)
	_, rep.OtherFrames = r.e.totals()
	if len(codes) > 0 {
		rep.ErrorCodes = codes
	}
	if len(closes) > 0 {
		rep.CloseCodes = closes
	}
	dur := r.cfg.Duration.Seconds()
	rep.PublishPerSec = float64(rep.Sent) / dur
	rep.DeliveriesPerSec = steadyRate(rep.Timeline, r.cfg, float64(rep.Delivered)/dur)
}

// evaluate records every invariant or threshold the run broke.
func (r *fanoutRun) evaluate() {
	rep, cfg := r.rep, r.cfg
	if rep.Lost > 0 {
		rep.failf("loss: %d of %d expected deliveries never arrived (waited %v after publishing)", rep.Lost, rep.Expected, cfg.Drain)
	}
	if rep.Dup > 0 {
		rep.failf("duplicates: %d deliveries seen twice", rep.Dup)
	}
	if rep.Reordered > 0 {
		rep.failf("order: %d deliveries arrived after a later message of the same publisher", rep.Reordered)
	}
	if rep.ClosedDuringRun > 0 {
		rep.failf("closed: %d connections closed by the server during the run (close codes %v)", rep.ClosedDuringRun, rep.CloseCodes)
	}
	if rc := rep.Restart; rc != nil && rc.Consistent < rc.Rooms {
		rep.failf("restart: in %d of %d rooms the members closed with 1012 did not all see the same last message (%v)", rc.Rooms-rc.Consistent, rc.Rooms, rc.Mismatches)
	}
	if cfg.MaxP99 > 0 && rep.Latency.P99Ms > float64(cfg.MaxP99)/float64(time.Millisecond) {
		rep.failf("latency: p99 %.2f ms exceeds -max-p99 %v", rep.Latency.P99Ms, cfg.MaxP99)
	}
	if cfg.MinRate > 0 && rep.DeliveriesPerSec < cfg.MinRate {
		rep.failf("rate: %.0f deliveries/s below -min-rate %.0f", rep.DeliveriesPerSec, cfg.MinRate)
	}
	if rep.Unsent > 0 {
		rep.failf("publishers: %d scheduled messages could not be sent (publisher connection closed)", rep.Unsent)
	}
	if rep.Sent == 0 {
		rep.failf("nothing was published")
	}
}

// appendMessage appends the JSON command carrying one generated message.
func appendMessage(dst []byte, cfg *Config, nick string, pub int, seq uint64, intendedNs int64) []byte {
	dst = appendCommandStart(dst, command.TypeMessage)
	dst = append(dst, `,"args":{`...)
	if cfg.Compat == CompatSeed {
		dst = append(dst, `"from":"`...)
		dst = append(dst, nick...)
		dst = append(dst, `",`...)
	}
	dst = append(dst, `"body":"`...)
	dst = appendBody(dst, pub, seq, intendedNs, cfg.Size)
	dst = append(dst, `"},"id":"`...)
	dst = strconv.AppendUint(dst, seq, 10)
	return append(dst, `"}`...)
}
