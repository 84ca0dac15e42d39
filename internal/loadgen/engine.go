package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/panjf2000/gnet/v2"

	"github.com/ics-chat/ics/internal/command"
)

// shard holds receive-side counters for a subset of connections; a
// connection's frames are always processed under its shard's lock, so the
// event loops rarely contend.
type shard struct {
	mu           sync.Mutex
	hist         *hdrhistogram.Histogram // latencies of messages intended after warmup
	win          *hdrhistogram.Histogram // latencies in the current timeline second
	delivered    uint64                  // unique generator messages received
	winDelivered uint64
	other        uint64 // frames without a generator marker
	errCodes     map[string]int64
	closeCodes   map[int]int64
}

// lgConn is one client connection's state. Fields below sh are guarded by sh.mu.
type lgConn struct {
	id         int
	nick       string
	room       int
	e          *engine
	sh         *shard
	fr         frameReader
	pending    []byte
	streams    []Stream // per publisher of the room
	gc         gnet.Conn
	joinNeedle []byte
	roomNeedle []byte
	now        int64
	closeCode  int
	closing    bool
	// last is the last generated message this connection received (for
	// the restart check: every member of a room closed with 1012 must
	// have seen the same last message).
	last    marker
	hasLast bool
	joined  atomic.Bool
	closed  atomic.Bool
}

// engine owns the gnet client and every connection's receive state.
type engine struct {
	cfg *Config
	// idBase is the first connection id dialAll gives (ids name the
	// nicknames: a second dialAll must not reuse the first one's).
	idBase int
	// onOpen, when set, gives the frames a new connection sends as soon
	// as it is enrolled (connect -rooms: the switch into its room).
	onOpen      func(lc *lgConn) []byte
	cli         *gnet.Client
	d           *dialer
	shards      []*shard
	epoch       time.Time
	epochNs     int64
	measureFrom atomic.Int64 // latencies of messages intended before this (unix ns) are not in hist
	pubsPerRoom int
	closedN     atomic.Int64
	churn       atomic.Pointer[ChurnStats] // set by a churn run, sampled by the timeline
	stopOnce    sync.Once
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}
func (nopLogger) Fatalf(string, ...any) {}

var raiseLimitOnce sync.Once

func newEngine(cfg *Config) (*engine, error) {
	raiseLimitOnce.Do(func() { _, _ = RaiseFileLimit() })
	loops := cfg.Loops
	if loops <= 0 {
		loops = runtime.NumCPU()
	}
	d, err := newDialer(cfg)
	if err != nil {
		return nil, err
	}
	e := &engine{cfg: cfg, d: d, epoch: time.Now(), pubsPerRoom: cfg.Publishers}
	e.epochNs = e.epoch.UnixNano()
	e.measureFrom.Store(-1 << 62)
	if cfg.Compat == CompatCentrifugo {
		e.onOpen = func(lc *lgConn) []byte { return centrifugoJoin(cfg, lc) }
	}
	for i := 0; i < 2*loops; i++ {
		e.shards = append(e.shards, &shard{hist: newHist(), win: newHist(),
			errCodes: map[string]int64{}, closeCodes: map[int]int64{}})
	}
	cli, err := gnet.NewClient(e, gnet.WithMulticore(true), gnet.WithNumEventLoop(loops),
		gnet.WithLogger(nopLogger{}), gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(256<<10))
	if err != nil {
		return nil, fmt.Errorf("create gnet client with %d loops: %w", loops, err)
	}
	if err := cli.Start(); err != nil {
		return nil, fmt.Errorf("start gnet client: %w", err)
	}
	e.cli = cli
	return e, nil
}

// stop closes every connection and the event loops.
func (e *engine) stop() {
	e.stopOnce.Do(func() {
		_ = e.cli.Stop()
		e.d.close()
	})
}

// nowNs is the current time in unix ns, read from the monotonic clock.
func (e *engine) nowNs() int64 { return e.epochNs + int64(time.Since(e.epoch)) }

// connect opens connection id (auth + upgrade) and enrolls it in the event loops.
func (e *engine) connect(ctx context.Context, id, room int) (*lgConn, time.Duration, error) {
	lc := &lgConn{id: id, nick: e.cfg.nick(id), room: room, e: e, sh: e.shards[id%len(e.shards)]}
	lc.joinNeedle = []byte(`"` + lc.nick + `"`)
	lc.roomNeedle = []byte(`"` + e.cfg.roomName(room) + `"`)
	lc.streams = make([]Stream, e.pubsPerRoom)
	hs, err := e.d.dial(ctx, id, lc.nick)
	if err != nil {
		return nil, 0, err
	}
	if len(hs.leftover) > 0 {
		lc.sh.mu.Lock()
		n, err := lc.fr.feed(hs.leftover, lc)
		lc.pending = hs.leftover[n:]
		lc.sh.mu.Unlock()
		if err != nil {
			hs.conn.Close()
			return nil, 0, fmt.Errorf("connection %d: first frames: %w", id, err)
		}
	}
	if _, err := e.cli.EnrollContext(hs.conn, lc); err != nil {
		return nil, 0, fmt.Errorf("connection %d: enroll in event loop: %w", id, err)
	}
	return lc, hs.took, nil
}

// send queues one text frame with payload on lc.
func (lc *lgConn) send(payload []byte) error {
	if lc.closed.Load() {
		return fmt.Errorf("connection %d (%s) is closed", lc.id, lc.nick)
	}
	return lc.gc.AsyncWrite(appendFrame(make([]byte, 0, len(payload)+14), command.OpText, payload), nil)
}

// command sends {"type":typ,"args":{key:val}}.
func (lc *lgConn) command(typ command.Type, key, val string) error {
	return lc.send(clientCommand(typ, "", key, val))
}

// OnBoot implements gnet.EventHandler.
func (e *engine) OnBoot(gnet.Engine) gnet.Action { return gnet.None }

// OnShutdown implements gnet.EventHandler.
func (e *engine) OnShutdown(gnet.Engine) {}

// OnTick implements gnet.EventHandler.
func (e *engine) OnTick() (time.Duration, gnet.Action) { return time.Hour, gnet.None }

// OnOpen implements gnet.EventHandler.
func (e *engine) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	lc := c.Context().(*lgConn)
	lc.sh.mu.Lock()
	lc.gc = c
	lc.sh.mu.Unlock()
	if e.onOpen != nil {
		return e.onOpen(lc), gnet.None
	}
	return nil, gnet.None
}

// OnClose implements gnet.EventHandler.
func (e *engine) OnClose(c gnet.Conn, _ error) gnet.Action {
	if lc, ok := c.Context().(*lgConn); ok && !lc.closed.Swap(true) {
		e.closedN.Add(1)
	}
	return gnet.None
}

// OnTraffic implements gnet.EventHandler: parse every complete frame.
func (e *engine) OnTraffic(c gnet.Conn) gnet.Action {
	lc := c.Context().(*lgConn)
	lc.sh.mu.Lock()
	defer lc.sh.mu.Unlock()
	lc.now = e.nowNs()
	var err error
	if len(lc.pending) > 0 {
		data, _ := c.Next(-1)
		lc.pending = append(lc.pending, data...)
		var n int
		n, err = lc.fr.feed(lc.pending, lc)
		lc.pending = lc.pending[n:]
		if len(lc.pending) == 0 {
			lc.pending = nil
		}
	} else {
		data, _ := c.Peek(-1)
		var n int
		n, err = lc.fr.feed(data, lc)
		_, _ = c.Discard(n)
	}
	if err != nil || lc.closing {
		return gnet.Close
	}
	return gnet.None
}

var (
	needleJoined = quoted(command.FrameJoined)
	needleError  = frameTypeNeedle(command.FrameError)
	needleCode   = []byte(`"code":"`)
)

// onMessage handles one complete text message. Caller holds lc.sh.mu.
func (lc *lgConn) onMessage(p []byte) {
	if lc.e.cfg.Compat == CompatCentrifugo {
		lc.onCentrifugo(p)
		return
	}
	if lc.observe(p) {
		return
	}
	sh := lc.sh
	sh.other++
	if bytes.Contains(p, needleJoined) && bytes.Contains(p, lc.joinNeedle) && bytes.Contains(p, lc.roomNeedle) {
		lc.joined.Store(true)
	}
	if bytes.Contains(p, needleError) {
		code := "unknown"
		if i := bytes.Index(p, needleCode); i >= 0 {
			rest := p[i+len(needleCode):]
			if j := bytes.IndexByte(rest, '"'); j >= 0 {
				code = string(rest[:j])
			}
		}
		sh.errCodes[code]++
	}
}

// observe records p if it carries a generated message, and reports
// whether it did. Caller holds lc.sh.mu.
func (lc *lgConn) observe(p []byte) bool {
	sh := lc.sh
	pub, seq, ts, ok := parseMarker(p)
	if !ok {
		return false
	}
	idx := pub - lc.room*lc.e.pubsPerRoom
	if idx < 0 || idx >= len(lc.streams) {
		sh.other++
		return true
	}
	if lc.streams[idx].Observe(seq) == Duplicate {
		return true
	}
	lc.last, lc.hasLast = marker{pub: pub, seq: seq}, true
	sh.delivered++
	sh.winDelivered++
	lat := lc.now - ts
	recordNs(sh.win, lat)
	if ts >= lc.e.measureFrom.Load() {
		recordNs(sh.hist, lat)
	}
	return true
}

// onControl answers pings and close frames. Caller holds lc.sh.mu.
func (lc *lgConn) onControl(op byte, p []byte) {
	switch op {
	case command.OpPing:
		if lc.gc != nil {
			_, _ = lc.gc.Write(appendFrame(nil, command.OpPong, p))
		}
	case command.OpClose:
		code := closeCode(p)
		lc.closeCode = code
		lc.sh.closeCodes[code]++
		if lc.gc != nil && !lc.closing {
			_, _ = lc.gc.Write(appendFrame(nil, command.OpClose, closePayload(code, "")))
		}
		lc.closing = true
	}
}

// totals sums the shards' delivery counters.
func (e *engine) totals() (delivered, other uint64) {
	for _, sh := range e.shards {
		sh.mu.Lock()
		delivered += sh.delivered
		other += sh.other
		sh.mu.Unlock()
	}
	return
}

// window takes and resets the per-second window of every shard.
func (e *engine) window() (uint64, *hdrhistogram.Histogram) {
	agg := newHist()
	var n uint64
	for _, sh := range e.shards {
		sh.mu.Lock()
		n += sh.winDelivered
		sh.winDelivered = 0
		agg.Merge(sh.win)
		sh.win.Reset()
		sh.mu.Unlock()
	}
	return n, agg
}

// merged returns the merged post-warmup histogram and error/close counts.
func (e *engine) merged() (*hdrhistogram.Histogram, map[string]int64, map[int]int64) {
	agg := newHist()
	codes := map[string]int64{}
	closes := map[int]int64{}
	for _, sh := range e.shards {
		sh.mu.Lock()
		agg.Merge(sh.hist)
		for k, v := range sh.errCodes {
			codes[k] += v
		}
		for k, v := range sh.closeCodes {
			closes[k] += v
		}
		sh.mu.Unlock()
	}
	return agg, codes, closes
}

// dialAll opens n connections at rate per second with bounded concurrency,
// calling room(i) for each connection's room. Failed slots are nil.
func (e *engine) dialAll(ctx context.Context, n int, rate float64, room func(int) int, hs *hdrhistogram.Histogram, progress func(up int, took time.Duration)) ([]*lgConn, []error) {
	conns := make([]*lgConn, n)
	var (
		mu   sync.Mutex
		errs []error
		up   atomic.Int64
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, 256)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; i < n; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("connection %d: %w", i, ctx.Err()))
			mu.Unlock()
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			lc, took, err := e.connect(ctx, e.idBase+i, room(i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			conns[i] = lc
			if hs != nil {
				recordNs(hs, int64(took))
			}
			if progress != nil {
				progress(int(up.Add(1)), took)
			}
		}(i)
	}
	wg.Wait()
	return conns, errs
}

// errSummary condenses many errors into one line.
func errSummary(errs []error) string {
	if len(errs) == 0 {
		return ""
	}
	return fmt.Sprintf("%d errors, first: %v", len(errs), errs[0])
}
