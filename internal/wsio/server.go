package wsio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/ics-chat/ics/internal/addrcount"
	"github.com/ics-chat/ics/internal/auth"
	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/fanout"
	"github.com/ics-chat/ics/internal/shard"
)

// Options wire a Server to the rest of the process.
type Options struct {
	Config config.Config
	Shards *shard.Group
	// Loops are the fanout loops the shards deliver to (fanout.NewLoops);
	// each is bound to one gnet event loop when that loop opens its first
	// connection.
	Loops  []*fanout.Loop
	Issuer *auth.Issuer
	// HTTP serves every request that is not a WebSocket upgrade.
	HTTP   http.Handler
	Logger *slog.Logger
	// Cluster is this node's cluster membership (nil: a single node).
	Cluster *cluster.Node
}

// Server is the gnet engine and everything that runs on its event loops.
type Server struct {
	cfg     config.Config
	shards  *shard.Group
	cluster *cluster.Node
	issuer  *auth.Issuer
	signer  *signer
	http    http.Handler
	log     *slog.Logger

	eng      gnet.Engine
	addr     net.Addr
	booted   chan struct{}
	runErr   chan error
	draining atomic.Bool
	wsConns  atomic.Int64
	admit    atomic.Pointer[addrcount.Counter] // set in OnBoot, once the budget is known
	refused  atomic.Uint64                     // sockets closed at accept: socket budget or per-address cap
	stopping atomic.Bool
	died     chan struct{} // closed when the engine stopped without Stop
	dieErr   error         // why, set before died is closed

	bindMu sync.Mutex
	bound  map[gnet.EventLoop]*loop
	loops  []*loop

	httpWG  sync.WaitGroup
	httpSem chan struct{}

	sweepStop chan struct{}
	sweepDone chan struct{}
	// started: Start succeeded (the engine booted and the sweeper runs);
	// Stop has nothing of the engine to stop otherwise.
	started atomic.Bool

	gnet.BuiltinEventEngine
}

// New returns a Server; Start runs it.
func New(o Options) (*Server, error) {
	if o.Shards == nil || o.Issuer == nil || o.HTTP == nil {
		return nil, errors.New("wsio: Shards, Issuer and HTTP are required")
	}
	if len(o.Loops) != o.Config.Loops {
		return nil, fmt.Errorf("wsio: got %d fanout loops for %d event loops", len(o.Loops), o.Config.Loops)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{
		cfg:       o.Config,
		shards:    o.Shards,
		cluster:   o.Cluster,
		issuer:    o.Issuer,
		signer:    newSigner(o.Issuer),
		http:      o.HTTP,
		log:       o.Logger,
		booted:    make(chan struct{}),
		runErr:    make(chan error, 1),
		died:      make(chan struct{}),
		bound:     map[gnet.EventLoop]*loop{},
		httpSem:   make(chan struct{}, o.Config.MaxHTTPInFlight),
		sweepStop: make(chan struct{}),
		sweepDone: make(chan struct{}),
	}
	for _, fl := range o.Loops {
		s.loops = append(s.loops, newLoop(s, fl))
	}
	return s, nil
}

// Start listens and runs the event loops; it returns once the listener is
// bound (or failed to bind).
func (s *Server) Start(ctx context.Context) error {
	addr := s.cfg.HTTPAddr
	go func() {
		err := gnet.Run(s, "tcp://"+addr,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(s.cfg.Loops),
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLoadBalancing(gnet.LeastConnections),
			gnet.WithLogger(gnetLogger{s.log}),
			gnet.WithAcceptGate(s.gate),
		)
		if !s.stopping.Load() {
			// The engine gave up on its own: nothing accepts on the chat
			// port any more. Say so; the process must not look alive.
			if err == nil {
				err = errors.New("event loops stopped")
			}
			s.dieErr = err
			s.log.Error("network engine stopped", "err", err)
			close(s.died)
		}
		s.runErr <- err
	}()
	select {
	case <-s.booted:
	case err := <-s.runErr:
		if err == nil {
			err = errors.New("engine stopped before it started")
		}
		return fmt.Errorf("listen on %s: %w", addr, err)
	case <-ctx.Done():
		return ctx.Err()
	}
	s.started.Store(true)
	go s.sweeper()
	return nil
}

// Addr is the bound listen address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.addr }

// Died is closed when the network engine stopped without Stop being
// called; Err then says why. The process should exit non-zero.
func (s *Server) Died() <-chan struct{} { return s.died }

// Err is why the engine died (nil while it runs).
func (s *Server) Err() error {
	select {
	case <-s.died:
		return s.dieErr
	default:
		return nil
	}
}

// Sockets is the number of client sockets open now (HTTP and WebSocket).
func (s *Server) Sockets() int {
	if a := s.admit.Load(); a != nil {
		return a.Held()
	}
	return 0
}

// Refused is how many sockets were closed at accept (socket budget or
// per-address cap).
func (s *Server) Refused() uint64 { return s.refused.Load() }

// Draining reports whether Drain has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Resume ends a drain's refusal of new connections: the node that lost
// its cluster (and drained for it) is back in it. Only the server's owner
// knows whether the drain was for good (a shutdown): it must not call
// Resume then.
func (s *Server) Resume() { s.draining.Store(false) }

// Connections is the number of open WebSocket connections.
func (s *Server) Connections() int64 { return s.wsConns.Load() }

// OnBoot records the bound address.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	budget, err := socketBudget(s.cfg.MaxSockets)
	if err != nil {
		s.log.Error("socket budget", "err", err)
		return gnet.Shutdown
	}
	s.admit.Store(addrcount.New(budget, s.cfg.MaxConnsPerIP))
	s.log.Info("socket limits", "max_sockets", budget, "max_conns_per_ip", s.cfg.MaxConnsPerIP)
	if fd, err := eng.Dup(); err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			switch a := sa.(type) {
			case *unix.SockaddrInet4:
				s.addr = &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
			case *unix.SockaddrInet6:
				s.addr = &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
			}
		}
		_ = unix.Close(fd)
	}
	close(s.booted)
	return gnet.None
}

// bindLoop finds (or assigns) our loop state for a gnet event loop. It runs
// once per connection open, off the hot path. A loop state (and its fanout
// loop) belongs to one gnet loop: its connections, scratch buffers and
// fanout tasks are touched only there. More gnet loops than loop states is
// an error, never a shared state.
func (s *Server) bindLoop(el gnet.EventLoop) (*loop, error) {
	s.bindMu.Lock()
	defer s.bindMu.Unlock()
	if l, ok := s.bound[el]; ok {
		return l, nil
	}
	if len(s.bound) >= len(s.loops) {
		return nil, fmt.Errorf("wsio: a gnet event loop beyond the %d configured (-loops)", len(s.loops))
	}
	l := s.loops[len(s.bound)]
	l.bind(el)
	s.bound[el] = l
	return l, nil
}

// OnOpen sets up a connection in the HTTP state.
func (s *Server) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	l, err := s.bindLoop(gc.EventLoop())
	if err != nil {
		s.log.Error("refusing a connection", "err", err)
		s.admit.Load().Give(addrKey(gc.RemoteAddr())) // OnClose will not: the socket has no conn
		return nil, gnet.Close
	}
	now := time.Now()
	c := &conn{
		gc:       gc,
		ls:       l,
		srv:      s,
		since:    now.UnixNano(),
		deadline: now.Add(min(s.cfg.HandshakeTimeout, s.cfg.HTTPLifetime)).UnixNano(),
		lastRead: now.UnixNano(),
	}
	c.lastFrame = c.lastRead
	gc.SetContext(c)
	l.add(c)
	l.stats.Conns.Add(1)
	return nil, gnet.None
}

// OnClose gives back whatever the connection held.
func (s *Server) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok || c.closed {
		return gnet.None
	}
	c.closed = true
	s.admit.Load().Give(addrKey(gc.RemoteAddr()))
	c.ls.remove(c)
	c.ls.stats.Conns.Add(-1)
	if c.counted {
		s.wsConns.Add(-1)
		c.ls.stats.WSConns.Add(-1)
	}
	c.cleanup()
	return gnet.None
}

// OnTraffic dispatches by connection state.
func (s *Server) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok || c.closed {
		return gnet.Close
	}
	c.lastRead = time.Now().UnixNano()
	if c.closing {
		_, _ = gc.Discard(-1)
		return gnet.None
	}
	switch {
	case c.s.phase == phNone:
		c.onHTTP()
	case c.s.phase == phClaiming:
		// Frames that follow the handshake wait in gnet's buffer until the
		// nickname is claimed; bound how much a client may push meanwhile.
		if gc.InboundBuffered() > 2*s.cfg.MaxFrameBytes {
			c.drop()
		}
	case c.ws:
		if s.draining.Load() {
			// Drain stopped reading: nothing read now is accepted, so
			// every member gets the same last message before 1012.
			_, _ = gc.Discard(-1)
			return gnet.None
		}
		c.onWS()
	}
	return gnet.None
}

// Drain loses nothing accepted: it stops reading (and upgrading), waits
// until every loop has seen that (so no command is on its way to a shard),
// passes a barrier through every shard (so all they accepted is fanned
// out), flushes each loop's deliveries, then closes every WebSocket with
// 1012 and waits until they are gone or ctx ends.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	for _, l := range s.loops {
		if err := l.runWait(ctx, func() {}); err != nil {
			return fmt.Errorf("drain: stop reading: %w", err)
		}
	}
	if err := s.shards.Barrier(ctx); err != nil {
		return fmt.Errorf("drain: shard barrier: %w", err)
	}
	for _, l := range s.loops {
		l.run(func() { l.drain() })
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.wsConns.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain: %d connections still open: %w", s.wsConns.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Stop closes every connection and stops the event loops, the sweeper and
// the HTTP handlers' goroutines (waiting for them until ctx ends).
func (s *Server) Stop(ctx context.Context) error {
	s.stopping.Store(true)
	if !s.started.Load() {
		return nil // Start failed: no engine, no sweeper, no connections
	}
	close(s.sweepStop)
	<-s.sweepDone
	err := s.eng.Stop(ctx)
	select {
	case rerr := <-s.runErr:
		if err == nil {
			err = rerr
		}
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	done := make(chan struct{})
	go func() { s.httpWG.Wait(); s.signer.wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("http handlers still running: %w", ctx.Err())
		}
	}
	return err
}

// LoopStats returns each event loop's counters.
func (s *Server) LoopStats() []*LoopStats {
	out := make([]*LoopStats, len(s.loops))
	for i, l := range s.loops {
		l.stats.FlushWindow.Store(int64(l.fan.Window()))
		out[i] = &l.stats
	}
	return out
}

type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...))) }
