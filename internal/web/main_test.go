package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/server"
	"github.com/ics-chat/ics/internal/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, servertest.LeakOptions()...)
}

const testJWTKey = "web-test-key-0123456789abcdef0123456789"

// startServer runs a real server on addr ("127.0.0.1:0" for any port). It is
// stopped when the test ends unless the caller stops it first (Stop is safe
// to call twice).
func startServer(t testing.TB, addr string) *server.Server {
	t.Helper()
	srv, err := runServer(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(t, srv) })
	return srv
}

// startServerWith is startServer with tweak applied to the configuration.
func startServerWith(t testing.TB, addr string, tweak func(*config.Config)) *server.Server {
	t.Helper()
	srv, err := runServerWith(addr, tweak)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(t, srv) })
	return srv
}

// runServer starts a server on addr; the caller stops it.
func runServer(addr string) (*server.Server, error) { return runServerWith(addr, nil) }

func runServerWith(addr string, tweak func(*config.Config)) (*server.Server, error) {
	cfg := config.Default()
	cfg.HTTPAddr = addr
	cfg.AdminAddr = ""
	cfg.JWTKey = testJWTKey
	cfg.DrainTimeout = 5 * time.Second
	if tweak != nil {
		tweak(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(cfg, log)
	if err != nil {
		return nil, err
	}
	// A port that was just freed can take a moment to bind again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = srv.Start(context.Background())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
		if srv, err = server.New(cfg, log); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	return srv, nil
}

// stopServer drains (closing WebSockets with 1012) and stops srv.
func stopServer(t testing.TB, srv *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !srv.Draining() {
		if err := srv.Drain(ctx); err != nil {
			t.Errorf("drain: %v", err)
		}
	}
	if err := srv.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
}

func port(srv *server.Server) int { return srv.Addr().(*net.TCPAddr).Port }
