package wsio

import (
	"bytes"
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
)

// LoopStats are one event loop's counters: written on the loop, readable
// anywhere.
type LoopStats struct {
	Conns          atomic.Int64  // sockets open on this loop (HTTP and WebSocket)
	WSConns        atomic.Int64  // WebSocket connections among them (Server.Connections is their sum)
	Writes         atomic.Uint64 // write/writev calls
	Frames         atomic.Uint64 // frames written
	BytesOut       atomic.Uint64 // bytes written
	MessagesIn     atomic.Uint64 // chat messages received
	Commands       atomic.Uint64 // commands received
	RateLimited    atomic.Uint64 // commands refused by the rate limit
	RateCloses     atomic.Uint64 // connections closed 4029
	SlowCloses     atomic.Uint64 // connections closed 4008
	ProtocolCloses atomic.Uint64 // connections closed for protocol errors
	PingCloses     atomic.Uint64 // connections closed for missing pongs
	Upgrades       atomic.Uint64 // completed WebSocket upgrades
	Rejected       atomic.Uint64 // refused handshakes (4xx/5xx)
	HTTPRequests   atomic.Uint64 // plain HTTP requests handed to net/http
	FlushWindow    atomic.Int64  // nanos: the fanout loop's live coalescing window, copied by Server.LoopStats
}

// loop is the per-event-loop state: everything here is touched only on that
// loop's goroutine (except stats).
type loop struct {
	srv   *Server
	fan   *fanout.Loop
	el    atomic.Pointer[elBox] // set once, when the loop opens its first connection
	stats LoopStats

	conns []*conn // every open socket on this loop; conn.pos is its index
	dec   command.Decoder
	buf   []byte // scratch for frames encoded on the loop
	pong  []byte // payload of the last ping of the read being parsed
	wbuf  []byte // scratch for coalescing one connection's frames into one write

	// Handshake scratch, filled by the upgrader's hooks during one Upgrade.
	up     ws.Upgrader
	hs     handshake
	hsIn   bytes.Reader
	hsOut  bytes.Buffer
	sweepF func()
}

func newLoop(s *Server, fl *fanout.Loop) *loop {
	l := &loop{srv: s, fan: fl}
	l.initUpgrader()
	l.sweepF = l.sweep
	return l
}

type elBox struct{ gnet.EventLoop }

func (l *loop) add(c *conn) {
	c.pos = int32(len(l.conns))
	l.conns = append(l.conns, c)
}

func (l *loop) remove(c *conn) {
	last := len(l.conns) - 1
	moved := l.conns[last]
	l.conns[c.pos] = moved
	moved.pos = c.pos
	l.conns[last] = nil
	l.conns = l.conns[:last]
}

func (l *loop) bind(el gnet.EventLoop) {
	l.el.Store(&elBox{el})
	l.fan.SetExecutor(func(fn func()) error { return execute(el, fn) })
}

// execute runs fn on event loop el.
func execute(el gnet.EventLoop, fn func()) error {
	return el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		return nil
	}))
}

// run executes fn on the loop (if it has been bound; an unbound loop has no
// connections, so there is nothing to do).
func (l *loop) run(fn func()) {
	b := l.el.Load()
	if b == nil {
		return
	}
	_ = execute(b.EventLoop, fn)
}

// runWait runs fn on the loop and waits for it (or ctx).
func (l *loop) runWait(ctx context.Context, fn func()) error {
	b := l.el.Load()
	if b == nil {
		return nil
	}
	done := make(chan struct{})
	if err := execute(b.EventLoop, func() { fn(); close(done) }); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sweep enforces time limits: handshake deadline, idle HTTP keep-alive,
// ping and pong timeout.
func (l *loop) sweep() {
	now := time.Now().UnixNano()
	cfg := &l.srv.cfg
	ping := int64(cfg.PingInterval)
	pong := int64(cfg.PongTimeout)
	// Backwards: a close during the scan swaps the last socket into the
	// freed index, which has then been visited already.
	for i := len(l.conns) - 1; i >= 0; i-- {
		if i >= len(l.conns) {
			continue
		}
		c := l.conns[i]
		if c.closed {
			continue
		}
		if c.closing {
			// A close frame was sent: close whoever did not answer it.
			if c.ws && now > c.deadline {
				c.deadline = math.MaxInt64
				if c.abort {
					// A slow consumer still has megabytes queued in the
					// kernel: reset instead of trickling them out.
					_ = c.gc.SetLinger(0)
				}
				_ = c.gc.Close()
			}
			continue
		}
		switch {
		case c.s.phase == phNone:
			switch {
			case !c.httpBusy && now > c.deadline:
				c.drop()
			case c.httpPause && c.gc.OutboundBuffered() <= httpOutPause:
				c.resumeHTTP()
			}
		case c.ws:
			switch {
			case c.partialAt != 0 && now-c.partialAt >= int64(cfg.FrameTimeout):
				l.stats.PingCloses.Add(1)
				c.closeWith(command.ClosePingTimeout, "frame not completed in time")
			case c.pingAt != 0 && now-c.pingAt >= pong:
				// onFrame clears pingAt: only a complete frame answers.
				l.stats.PingCloses.Add(1)
				c.closeWith(command.ClosePingTimeout, "ping timeout")
			case c.pingAt == 0 && now-c.lastFrame >= ping:
				c.pingAt = now
				c.writeNow(command.AppendPing(nil))
			}
		}
	}
}

func (l *loop) drain() {
	l.fan.RunNow() // deliver what the shards already produced
	for _, c := range slices.Clone(l.conns) {
		switch {
		case c.closed || c.closing:
		case c.ws:
			c.closeWith(command.CloseServiceRestart, "service restart")
		case c.s.phase == phClaiming:
			c.drop()
		case !c.httpBusy:
			c.drop()
		}
	}
}

// sweeper runs each loop's sweep periodically until Stop.
func (s *Server) sweeper() {
	defer close(s.sweepDone)
	every := min(s.cfg.PingInterval, s.cfg.PongTimeout, s.cfg.HandshakeTimeout, s.cfg.FrameTimeout) / 4
	every = max(every, 10*time.Millisecond)
	every = min(every, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.sweepStop:
			return
		case <-t.C:
			for _, l := range s.loops {
				l.run(l.sweepF)
			}
		}
	}
}
