package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ics-chat/ics/internal/auth"
	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/fanout"
	"github.com/ics-chat/ics/internal/metric"
	"github.com/ics-chat/ics/internal/shard"
	"github.com/ics-chat/ics/internal/wsio"
)

// Version is the server version reported by the admin API and metrics.
var Version = "0.1.0-dev"

// Server is one running ICS server.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	issuer   *auth.Issuer
	shards   *shard.Group
	loops    []*fanout.Loop
	ws       *wsio.Server
	registry *prometheus.Registry
	started  time.Time
	cluster  *cluster.Node // nil on a single node
	// drainMu orders a shutdown's drain against a cluster rejoin's
	// resume, so a rejoin never reopens a server that is shutting down.
	drainMu  sync.Mutex
	shutdown bool                   // a shutdown drain or Stop began (under drainMu)
	httpAddr atomic.Pointer[string] // the bound address, once the listener is up

	cancel   context.CancelFunc
	stopOnce sync.Once
	stopErr  error

	metricsLn  net.Listener // -metrics-listen, nil when off
	metricsSrv *http.Server
	metricsWG  sync.WaitGroup
}

// New builds a server from cfg; Start runs it.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	iss, generated, err := auth.NewIssuer(cfg.JWTKey, cfg.TokenTTL)
	if err != nil {
		return nil, err
	}
	if generated {
		log.Warn("no -jwt-key / ICS_JWT_KEY set: using a random key; tokens will not survive a restart or work on other nodes")
	}
	s := &Server{cfg: cfg, log: log, issuer: iss, registry: prometheus.NewRegistry()}
	s.loops = fanout.NewLoops(cfg.Loops)
	for _, l := range s.loops {
		l.SetAdaptiveLinger(cfg.FlushInterval, cfg.FlushMax)
		l.SetMaxQueue(cfg.LoopQueue)
	}
	sopts := shard.Options{
		InboxLimit: cfg.ShardInbox, PresenceMax: cfg.PresenceMax,
		HistorySize: cfg.HistorySize, HistoryTTL: cfg.HistoryTTL, HistoryMaxBytes: cfg.HistoryMaxBytes,
		// A reply the socket cannot take at once must not be what
		// closes it as a slow consumer.
		HistoryReplyMax: cfg.MaxBacklogBytes / 2,
		ClaimTTL:        cfg.ClaimTTL, MaxClaimsPerAddr: cfg.MaxClaimsPerIP, MaxClaims: cfg.MaxClaims,
	}
	if cfg.Clustered() {
		co := cluster.OptionsFrom(cfg)
		co.Logger, co.Load, co.OnLost, co.OnRejoined = log, s.load, s.onClusterLost, s.onClusterRejoined
		s.cluster = cluster.New(co)
		sopts.Bridge, sopts.Directory = s.cluster, s.cluster
	}
	s.shards = shard.NewGroup(cfg.Shards, s.loops, sopts)
	s.ws, err = wsio.New(wsio.Options{
		Config:  cfg,
		Shards:  s.shards,
		Loops:   s.loops,
		Issuer:  iss,
		HTTP:    s.routes(),
		Logger:  log,
		Cluster: s.cluster,
	})
	if err != nil {
		return nil, err
	}
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metric.NewCollector(s.Metrics()),
	)
	return s, nil
}

// Start runs the shards and binds the listener. It returns once clients can
// connect.
func (s *Server) Start(ctx context.Context) error {
	sctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.started = time.Now()
	s.shards.Start(sctx)
	if s.cluster != nil {
		// Before the listener: no client may claim a name the cluster
		// does not know about.
		if err := s.cluster.Start(ctx, s.shards); err != nil {
			cancel()
			s.shards.Wait()
			return fmt.Errorf("join cluster as %s: %w", s.cfg.NodeID, err)
		}
	}
	if err := s.ws.Start(ctx); err != nil {
		cancel()
		s.shards.Wait()
		if s.cluster != nil {
			s.cluster.Stop()
		}
		return err
	}
	if s.cfg.MetricsAddr != "" {
		if err := s.startMetrics(); err != nil {
			_ = s.Stop(context.Background())
			return err
		}
	}
	a := s.ws.Addr().String()
	s.httpAddr.Store(&a)
	return nil
}

// startMetrics serves metricsRoutes on -metrics-listen.
func (s *Server) startMetrics() error {
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("-metrics-listen %s: %w", s.cfg.MetricsAddr, err)
	}
	s.metricsLn = ln
	s.metricsSrv = &http.Server{
		Handler:           s.metricsRoutes(),
		ReadHeaderTimeout: s.cfg.HandshakeTimeout,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
	}
	s.metricsWG.Add(1)
	go func() {
		defer s.metricsWG.Done()
		if err := s.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener", "err", err)
		}
	}()
	return nil
}

// MetricsAddr is the bound -metrics-listen address (nil when off).
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// Cluster is the node's cluster membership (nil on a single node).
func (s *Server) Cluster() *cluster.Node { return s.cluster }

// ClusterLost reports whether the node lost its cluster (not ready).
func (s *Server) ClusterLost() bool { return s.cluster != nil && s.cluster.Lost() }

// load is what the registry record says about this node.
func (s *Server) load() cluster.Load {
	l := cluster.Load{HTTP: s.cfg.HTTPAddr, Admin: s.cfg.AdminAddr, Conns: s.ws.Connections()}
	if a := s.httpAddr.Load(); a != nil {
		l.HTTP = *a
	}
	for i := 0; i < s.shards.Len(); i++ {
		l.Rooms += s.shards.Shard(i).Stats().Rooms.Load()
	}
	return l
}

// onClusterLost turns the node not-ready and closes its clients with 1012,
// so they reconnect to a node that still has the cluster: serving on would
// break nickname uniqueness.
func (s *Server) onClusterLost(string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel()
	if err := s.ws.Drain(ctx); err != nil {
		s.log.Warn("cluster lost: clients not all closed", "err", err)
	}
}

// onClusterRejoined serves again once the node is back in the cluster
// (clients reconnect; their history lines broke, so recovery says
// complete:false where it missed something). A shutdown that began
// meanwhile wins.
func (s *Server) onClusterRejoined() {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	if !s.shutdown {
		s.ws.Resume()
	}
}

// Addr is the bound HTTP/WebSocket address.
func (s *Server) Addr() net.Addr { return s.ws.Addr() }

// Shards exposes the shard group (for the admin API).
func (s *Server) Shards() *shard.Group { return s.shards }

// WS exposes the event-loop server (for the admin API).
func (s *Server) WS() *wsio.Server { return s.ws }

// Config is the configuration the server runs with.
func (s *Server) Config() config.Config { return s.cfg }

// Started is when Start was called.
func (s *Server) Started() time.Time { return s.started }

// Died is closed when the network engine stopped by itself: the chat port
// is gone and the process should exit non-zero.
func (s *Server) Died() <-chan struct{} { return s.ws.Died() }

// Alive reports whether the network engine still runs (health and
// readiness are bad once it does not).
func (s *Server) Alive() bool { return s.ws.Err() == nil }

// Draining reports whether a drain has begun.
func (s *Server) Draining() bool { return s.ws.Draining() }

// Drain turns /readyz to 503, refuses new upgrades, closes every WebSocket
// with 1012 after flushing what it had pending, and waits for them to go,
// at most until ctx ends.
func (s *Server) Drain(ctx context.Context) error {
	s.markShutdown()
	return s.ws.Drain(ctx)
}

// markShutdown records that the server is going away for good.
func (s *Server) markShutdown() {
	s.drainMu.Lock()
	s.shutdown = true
	s.drainMu.Unlock()
}

// Stop closes everything that is left and stops every goroutine the server
// started. It is safe to call more than once.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.markShutdown()
		if s.metricsSrv != nil {
			_ = s.metricsSrv.Close()
			s.metricsWG.Wait()
		}
		err := s.ws.Stop(ctx)
		s.cancel()
		s.shards.Wait()
		if s.cluster != nil {
			s.cluster.Stop()
		}
		s.stopErr = err
	})
	return s.stopErr
}

// Shutdown drains within the configured drain timeout, then stops.
func (s *Server) Shutdown(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	derr := s.Drain(dctx)
	sctx, cancel2 := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel2()
	return errors.Join(derr, s.Stop(sctx))
}

var _ http.Handler = (*http.ServeMux)(nil)
