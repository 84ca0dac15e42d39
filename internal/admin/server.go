package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/server"
	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

// Config configures the admin server.
type Config struct {
	// Addr is the listen address (host:port; port 0 picks one).
	Addr string
	// Token, when set, is required as "authorization: Bearer TOKEN" on every
	// RPC except the health service.
	Token string
	// Insecure allows a non-loopback Addr without a Token.
	Insecure bool
	// DrainTimeout bounds a Drain RPC that gives no timeout of its own.
	DrainTimeout time.Duration
	// OnDrain, if set, is called once after a Drain RPC has drained (before
	// it replies). cmd/server uses it to shut down as after SIGTERM.
	OnDrain func()
	Logger  *slog.Logger
}

// ConfigFrom takes the admin settings of a server configuration.
func ConfigFrom(c config.Config) Config {
	return Config{Addr: c.AdminAddr, Token: c.AdminToken, Insecure: c.AdminInsecure, DrainTimeout: c.DrainTimeout}
}

// ServiceName is the full name of the admin service (also its health name).
const ServiceName = "ics.admin.v1.AdminService"

// Server is the admin gRPC server of one ICS server.
type Server struct {
	srv    *server.Server
	cfg    Config
	log    *slog.Logger
	lis    net.Listener
	grpc   *grpc.Server
	health *health.Server

	done     chan struct{} // closed by Stop: ends WatchStats streams and the health watcher
	stopOnce sync.Once
	wg       sync.WaitGroup
	drainMu  sync.Mutex
	drained  bool
	watchers atomic.Int64 // WatchStats streams running
	// The health status last set (servingSet: set at all).
	servingMu  sync.Mutex
	serving    bool
	servingSet bool

	adminv1.UnimplementedAdminServiceServer
}

// ErrInsecureAddr is returned by New for a non-loopback address without a
// token (and without Insecure).
var ErrInsecureAddr = errors.New("refusing to serve the admin API on a non-loopback address without -admin-token (set one, or pass -admin-insecure)")

// New checks cfg and binds the admin listener. Serve runs it.
func New(srv *server.Server, cfg Config) (*Server, error) {
	if srv == nil {
		return nil, errors.New("admin: nil server")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = config.DefaultDrainTimeout
	}
	loop, err := IsLoopback(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", cfg.Addr, err)
	}
	if !loop && cfg.Token == "" && !cfg.Insecure {
		return nil, fmt.Errorf("admin address %q: %w", cfg.Addr, ErrInsecureAddr)
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	s := &Server{
		srv:    srv,
		cfg:    cfg,
		log:    cfg.Logger,
		lis:    lis,
		health: health.NewServer(),
		done:   make(chan struct{}),
	}
	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
	)
	adminv1.RegisterAdminServiceServer(s.grpc, s)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	s.setServing(!srv.Draining())
	return s, nil
}

// IsLoopback reports whether the host of addr (host:port) is a loopback
// address or "localhost". An empty host (all interfaces) is not.
func IsLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback(), nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// Serve serves until ctx ends or Stop is called. It returns nil then.
func (s *Server) Serve(ctx context.Context) error {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.watchDraining(ctx)
	}()
	s.log.Info("admin API listening", "addr", s.Addr().String(), "auth", s.cfg.Token != "")
	err := s.grpc.Serve(s.lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

// watchDraining keeps health in step with the server: NOT_SERVING as soon
// as it drains for any reason (SIGTERM, a lost cluster), SERVING again
// when a lost cluster is rejoined; it stops the gRPC server if ctx ends.
func (s *Server) watchDraining(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-ctx.Done():
			go func() { _ = s.Stop(context.Background()) }()
			return
		case <-t.C:
			// Both ways: a node that lost its cluster drains, then
			// serves again when it rejoins.
			s.setServing(!s.srv.Draining() && s.srv.Alive())
		}
	}
}

// setServing sets both health services' status when it changes (each
// set notifies every Watch stream, so it is not repeated).
func (s *Server) setServing(ok bool) {
	s.servingMu.Lock()
	defer s.servingMu.Unlock()
	if s.servingSet && s.serving == ok {
		return
	}
	s.serving, s.servingSet = ok, true
	st := healthpb.HealthCheckResponse_SERVING
	if !ok {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(ServiceName, st)
}

// Stop ends every stream, lets unary RPCs in flight finish until ctx ends,
// then closes the listener and every admin connection. Safe to call more
// than once.
func (s *Server) Stop(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		close(s.done)
		s.health.Shutdown()
		stopped := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			s.grpc.Stop()
			<-stopped
			err = ctx.Err()
		}
		_ = s.lis.Close() // when Serve never ran
		s.wg.Wait()
	})
	return err
}

// authorized checks the bearer token of an incoming call.
func (s *Server) authorized(ctx context.Context, method string) error {
	if s.cfg.Token == "" || strings.HasPrefix(method, "/grpc.health.v1.Health/") {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		scheme, tok, ok := strings.Cut(v, " ")
		if ok && strings.EqualFold(scheme, "Bearer") &&
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.Token)) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "admin API: missing or wrong bearer token (metadata authorization: Bearer TOKEN)")
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.authorized(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := s.authorized(ss.Context(), info.FullMethod); err != nil {
		if reflectionMethods[info.FullMethod] {
			return h(srv, healthOnlyStream{ss})
		}
		return err
	}
	return h(srv, ss)
}
