// Package servertest starts real ICS servers for tests: on a loopback port
// chosen by the kernel, with the admin API off and a fixed token key, and
// stops them (checking they stop cleanly) when the test ends.
//
// It owns nothing beyond the servers it starts for one test. It must never
// be imported by non-test code.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/server"
)

// JWTKey is the token key of test servers.
const JWTKey = "test-key-0123456789abcdef0123456789"

// Config is the test configuration: the defaults, on 127.0.0.1:0, admin off.
func Config() config.Config {
	cfg := config.Default()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.AdminAddr = ""
	cfg.JWTKey = JWTKey
	cfg.DrainTimeout = 5 * time.Second
	// Tests connect many clients from 127.0.0.1 in a burst; the per-address
	// limits get their own tests, which set them.
	cfg.AuthRate, cfg.AuthBurst = 1e6, 1e6
	cfg.MaxClaimsPerIP, cfg.MaxConnsPerIP = 0, 0
	return cfg
}

// Start runs a real server with Config() changed by tweak (which may be nil)
// and stops it when the test ends.
func Start(tb testing.TB, tweak func(*config.Config)) *server.Server {
	tb.Helper()
	cfg := Config()
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := server.New(cfg, Logger())
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			tb.Errorf("stop: %v", err)
		}
	})
	return srv
}

// Logger discards the server's log.
func Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// LeakOptions are the goleak options for packages that start servers:
// gnet's package-level worker pool (ants) keeps its purge goroutines for the
// life of the process; they are not ours to stop.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	}
}

// FreePorts returns n distinct loopback ports nobody listens on right now
// (all are held open until the last is picked, so none repeats).
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ls []net.Listener
	var ps []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		ps = append(ps, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ps
}

// NATS runs a standalone NATS server with JetStream on loopback port port
// (0 picks one): the "existing NATS" of -nats-url, until the test ends.
func NATS(tb testing.TB, port int) *natsserver.Server {
	tb.Helper()
	if port == 0 {
		port = natsserver.RANDOM_PORT
	}
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: port,
		JetStream: true, StoreDir: tb.TempDir(), NoSigs: true, NoLog: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("NATS server not ready")
	}
	tb.Cleanup(ns.Shutdown)
	return ns
}
