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

	"github.com/ics-chat/ics/internal/command"
)

// RunFanout runs one fan-out measurement: Conns connections spread over
// Rooms rooms, Publishers per room publishing open-loop at Rate messages/s
// each for Duration, then waits up to Drain for in-flight messages. The
// returned error is for runs that could not be set up; invariant failures
// (loss, duplicates, reordering, thresholds) are in Report.Failures.
func RunFanout(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate("fanout"); err != nil {
		return nil, err
	}
	return runFanout(ctx, &cfg, "fanout", nil)
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

func runFanout(ctx context.Context, cfg *Config, mode string, side sidecar) (*Report, error) {
	rep := &Report{Mode: mode, Config: *cfg, Started: time.Now(), ConnsWanted: cfg.Conns}
	wallStart := time.Now()
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	defer e.stop()
	R, P := cfg.Rooms, cfg.Publishers

	status := func(format string, a ...any) {
		if cfg.Status != nil {
			cfg.Status(fmt.Sprintf(format, a...))
		}
	}
	var lastStatus atomic.Int64
	conns, errs := e.dialAll(ctx, cfg.Conns, cfg.ConnectRate, func(i int) int { return i % R }, nil, func(up int, _ time.Duration) {
		if now := time.Now().UnixNano(); now-lastStatus.Load() > int64(200*time.Millisecond) {
			lastStatus.Store(now)
			status("connecting: %d/%d up", up, cfg.Conns)
		}
	})
	rep.ConnectErrors, rep.ConnectError, rep.AuthRefused429 = len(errs), errSummary(errs), count429(errs)
	for _, lc := range conns {
		if lc != nil {
			rep.ConnsUp++
		}
	}
	if rep.ConnectErrors > 0 {
		rep.failf("connect: %d of %d connections failed (%s)", rep.ConnectErrors, cfg.Conns, rep.ConnectError)
	}
	if rep.ConnsUp == 0 {
		return rep, fmt.Errorf("no connection to %s came up: %s", cfg.Addr, rep.ConnectError)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("fanout setup: %w", err)
	}

	// Rooms: the first connection of each room creates it, the rest switch in.
	if err := setupRooms(ctx, cfg, conns, rep, status); err != nil {
		return rep, err
	}
	// Membership events (joined/left, O(room size²) frames in total) must
	// have drained before publishing, or they would queue ahead of the
	// measured messages.
	settleStart := time.Now()
	settle(ctx, e, cfg.Settle, status)
	rep.SettleSec = time.Since(settleStart).Seconds()
	markUnjoined(conns, rep)
	members := make([]uint64, R)
	for _, lc := range conns {
		if lc != nil && lc.room >= 0 {
			members[lc.room]++
		}
	}

	// Publishers.
	period := float64(time.Second) / cfg.Rate
	start := e.nowNs() + int64(100*time.Millisecond)
	end := start + int64(cfg.Duration)
	e.measureFrom.Store(start + int64(cfg.Warmup))
	pubs := make([]*pubState, R*P)
	h := make(pubHeap, 0, len(pubs))
	for r := 0; r < R; r++ {
		for k := 0; k < P; k++ {
			id := r*P + k
			phase := int64(rand.Float64() * period) // random start phase
			ps := &pubState{id: id, phase: phase, next: start + phase}
			pubs[id] = ps
			if lc := conns[r+R*k]; lc != nil && lc.room == r {
				ps.lc = lc
				h = append(h, ps)
			}
		}
	}
	if len(h) < len(pubs) {
		rep.failf("publishers: only %d of %d publishers are connected and in their room", len(h), len(pubs))
	}
	heap.Init(&h)
	var totalSent atomic.Uint64

	cpu := markCPU()
	srvA, srvOK := sampleServer(ctx, cfg.ServerPID, cfg.Addr)
	tlDone := make(chan struct{})
	var tlWG sync.WaitGroup
	tlWG.Add(1)
	go func() {
		defer tlWG.Done()
		rep.Timeline = timeline(e, &totalSent, rep.ConnsUp, start, tlDone, cfg.Status)
	}()
	pubCtx, pubCancel := context.WithDeadline(ctx, time.Unix(0, end))
	var finishSide func(*Report)
	if side != nil {
		finishSide = side(pubCtx, e)
	}
	// Open-loop schedule: every message goes out at (or as soon as possible
	// after) its intended time, which it carries; latency is measured from
	// the intended time, so sender stalls show up as latency.
	buf := make([]byte, 0, cfg.Size+256)
	lagHist := newHist() // actual send time − intended send time: the generator's own delay
	for h.Len() > 0 && ctx.Err() == nil {
		ps := h[0]
		if ps.next >= end {
			heap.Pop(&h)
			continue
		}
		now := e.nowNs()
		if wait := ps.next - now; wait > 0 {
			if wait > int64(50*time.Millisecond) {
				wait = int64(50 * time.Millisecond)
			}
			time.Sleep(time.Duration(wait))
			continue
		}
		if ps.next >= e.measureFrom.Load() {
			recordNs(lagHist, now-ps.next)
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
			totalSent.Add(1)
		}
		ps.next = start + ps.phase + int64(math.Round(float64(ps.seq+ps.failed)*period))
		heap.Fix(&h, 0)
	}
	pubCancel()
	if finishSide != nil {
		finishSide(rep)
	}

	// Drain: wait until everything expected arrived or Drain passes.
	var expected uint64
	for _, ps := range pubs {
		if ps.lc != nil {
			expected += ps.sent.Load() * members[ps.lc.room]
		}
	}
	drainEnd := time.Now().Add(cfg.Drain)
	for time.Now().Before(drainEnd) && ctx.Err() == nil {
		if d, _ := e.totals(); d >= expected {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(tlDone)
	tlWG.Wait()
	rep.GeneratorCPU = cpu.since()
	if srvOK {
		if srvB, ok := sampleServer(context.Background(), cfg.ServerPID, cfg.Addr); ok {
			rep.Server = serverStats(cfg.ServerPID, srvA, srvB, 0)
		}
	}
	rep.ClosedDuringRun = e.closedN.Load()

	// Accounting per receiver and publisher.
	rep.Expected = expected
	for _, ps := range pubs {
		rep.Sent += ps.sent.Load()
		rep.Unsent += ps.failed
	}
	for _, lc := range conns {
		if lc == nil || lc.room < 0 {
			continue
		}
		lc.sh.mu.Lock()
		for k := range lc.streams {
			ps := pubs[lc.room*P+k]
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
	hist, codes, closes := e.merged()
	rep.Latency = Summarize(hist)
	rep.SendLag = Summarize(lagHist)
	_, rep.OtherFrames = e.totals()
	if len(codes) > 0 {
		rep.ErrorCodes = codes
	}
	if len(closes) > 0 {
		rep.CloseCodes = closes
	}
	dur := cfg.Duration.Seconds()
	rep.PublishPerSec = float64(rep.Sent) / dur
	rep.DeliveriesPerSec = steadyRate(rep.Timeline, cfg, float64(rep.Delivered)/dur)
	rep.WallSec = time.Since(wallStart).Seconds()

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
	return rep, ctx.Err()
}

// steadyRate averages deliveries/s over the timeline seconds after warmup
// and inside the publishing window; fallback when there are none.
func steadyRate(tl []Second, cfg *Config, fallback float64) float64 {
	lo := int(math.Ceil(cfg.Warmup.Seconds()))
	hi := int(cfg.Duration.Seconds())
	var sum uint64
	n := 0
	for _, s := range tl {
		if s.T >= lo && s.T < hi {
			sum += s.Deliveries
			n++
		}
	}
	if n == 0 {
		return fallback
	}
	return float64(sum) / float64(n)
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

// setupRooms moves connections into their rooms and marks those that never
// confirmed with room -1.
func setupRooms(ctx context.Context, cfg *Config, conns []*lgConn, rep *Report, status func(string, ...any)) error {
	R := cfg.Rooms
	if cfg.Compat == CompatCentrifugo {
		// Every connection subscribed to its room's channel when it came
		// up (engine.onOpen): wait for the replies.
		waitJoined(ctx, cfg, liveConns(conns), 30*time.Second+time.Duration(len(conns))*time.Second/250)
		return ctx.Err()
	}
	if R == 1 {
		for _, lc := range conns {
			if lc != nil {
				lc.joined.Store(true)
			}
		}
		return nil
	}
	var creators, others []*lgConn
	for i, lc := range conns {
		if lc == nil {
			continue
		}
		if i < R {
			creators = append(creators, lc)
		} else {
			others = append(others, lc)
		}
	}
	status("creating %d rooms", R)
	for _, lc := range creators {
		if err := lc.command(command.TypeCreateRoom, "name", cfg.roomName(lc.room)); err != nil {
			return fmt.Errorf("createroom %s: %w", cfg.roomName(lc.room), err)
		}
	}
	waitJoined(ctx, cfg, creators, 15*time.Second)
	status("moving %d connections into rooms", len(others))
	for _, lc := range others {
		if err := lc.command(command.TypeSwitchRoom, "room", cfg.roomName(lc.room)); err != nil {
			lc.sh.mu.Lock()
			lc.room = -1
			lc.sh.mu.Unlock()
		}
	}
	waitJoined(ctx, cfg, others, 30*time.Second+time.Duration(len(others))*time.Second/250)
	return ctx.Err()
}

// markUnjoined takes connections that never confirmed their room out of the
// accounting (room -1) and records a failure.
func markUnjoined(conns []*lgConn, rep *Report) {
	missing := 0
	for _, lc := range conns {
		if lc != nil && !lc.joined.Load() {
			lc.sh.mu.Lock()
			lc.room = -1
			lc.sh.mu.Unlock()
			missing++
		}
	}
	if missing > 0 {
		rep.failf("rooms: %d connections never confirmed joining their room", missing)
	}
}

// settle waits until no non-message frames arrived for 600 ms, at most max.
func settle(ctx context.Context, e *engine, max time.Duration, status func(string, ...any)) {
	deadline := time.Now().Add(max)
	_, last := e.totals()
	quiet := 0
	for quiet < 3 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		_, other := e.totals()
		if other == last {
			quiet++
		} else {
			quiet = 0
			status("waiting for membership events to drain (%d frames so far)", other)
		}
		last = other
	}
}

// waitJoined waits until every connection saw its own joined event; in the
// seed dialect there are none, so it waits a fixed second and assumes success.
func waitJoined(ctx context.Context, cfg *Config, conns []*lgConn, timeout time.Duration) {
	if cfg.Compat == CompatSeed {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		for _, lc := range conns {
			lc.joined.Store(true)
		}
		return
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		all := true
		for _, lc := range conns {
			if lc.room >= 0 && !lc.joined.Load() && !lc.closed.Load() {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// timeline samples the engine once a second from start until done closes.
func timeline(e *engine, sent *atomic.Uint64, up int, start int64, done <-chan struct{}, status func(string)) []Second {
	var out []Second
	if d := time.Duration(start - e.nowNs()); d > 0 {
		select {
		case <-done:
			return nil
		case <-time.After(d):
		}
	}
	_, _ = e.window() // discard anything before start
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastSent uint64
	var maxP99 float64
	for sec := 0; ; sec++ {
		select {
		case <-done:
			return out
		case <-t.C:
		}
		n, h := e.window()
		s := sent.Load()
		sum := Summarize(h)
		pt := Second{T: sec, Sent: s - lastSent, Deliveries: n, P50Ms: sum.P50Ms, P90Ms: sum.P90Ms,
			P99Ms: sum.P99Ms, MaxMs: sum.MaxMs, ConnsUp: up - int(e.closedN.Load())}
		if churn := e.churn.Load(); churn != nil {
			pt.ChurnCycles, pt.ChurnFailures = churn.cycles.Load(), churn.failures.Load()+churn.refused.Load()
		}
		lastSent = s
		out = append(out, pt)
		maxP99 = math.Max(maxP99, sum.P99Ms)
		if status != nil {
			line := fmt.Sprintf("t=%ds conns %d | %d msgs/s sent | %d deliveries/s | p99 %.2f ms (worst second %.2f ms)",
				sec+1, pt.ConnsUp, pt.Sent, pt.Deliveries, sum.P99Ms, maxP99)
			if e.churn.Load() != nil {
				line += fmt.Sprintf(" | churn %d cycles, %d failed", pt.ChurnCycles, pt.ChurnFailures)
			}
			status(line)
		}
	}
}
