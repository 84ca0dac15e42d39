package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ics-chat/ics/internal/auth"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/fanout"
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

	cancel   context.CancelFunc
	stopOnce sync.Once
	stopErr  error
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
	}
	s.shards = shard.NewGroup(cfg.Shards, s.loops, shard.Options{
		InboxLimit: cfg.ShardInbox, PresenceMax: cfg.PresenceMax,
		HistorySize: cfg.HistorySize, HistoryTTL: cfg.HistoryTTL, HistoryMaxBytes: cfg.HistoryMaxBytes,
		// A reply the socket cannot take at once must not be what
		// closes it as a slow consumer.
		HistoryReplyMax: cfg.MaxBacklogBytes / 2,
	})
	s.ws, err = wsio.New(wsio.Options{
		Config: cfg,
		Shards: s.shards,
		Loops:  s.loops,
		Issuer: iss,
		HTTP:   s.routes(),
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newCollector(s),
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
	if err := s.ws.Start(ctx); err != nil {
		cancel()
		s.shards.Wait()
		return err
	}
	return nil
}

// Addr is the bound HTTP/WebSocket address.
func (s *Server) Addr() net.Addr { return s.ws.Addr() }

// Shards exposes the shard group (for the admin API).
func (s *Server) Shards() *shard.Group { return s.shards }

// WS exposes the event-loop server (for the admin API).
func (s *Server) WS() *wsio.Server { return s.ws }

// Issuer exposes the token issuer.
func (s *Server) Issuer() *auth.Issuer { return s.issuer }

// Config is the configuration the server runs with.
func (s *Server) Config() config.Config { return s.cfg }

// Started is when Start was called.
func (s *Server) Started() time.Time { return s.started }

// Registry is the Prometheus registry served at /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Draining reports whether a drain has begun.
func (s *Server) Draining() bool { return s.ws.Draining() }

// Drain turns /readyz to 503, refuses new upgrades, closes every WebSocket
// with 1012 after flushing what it had pending, and waits for them to go,
// at most until ctx ends.
func (s *Server) Drain(ctx context.Context) error { return s.ws.Drain(ctx) }

// Stop closes everything that is left and stops every goroutine the server
// started. It is safe to call more than once.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		err := s.ws.Stop(ctx)
		s.cancel()
		s.shards.Wait()
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
