package admin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ics-chat/ics/internal/admin"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/server"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, servertest.LeakOptions()...)
}

// env is a real chat server with its admin API and a gRPC client of it.
type env struct {
	srv    *server.Server
	adm    *admin.Server
	conn   *grpc.ClientConn
	api    adminv1.AdminServiceClient
	health healthpb.HealthClient
	addr   string // chat HTTP/WebSocket address
	token  string
	// drained is closed when the admin API's OnDrain hook runs.
	drained chan struct{}
}

type opt struct {
	token string
	tweak func(*config.Config)
}

func newEnv(t *testing.T, o opt) *env {
	t.Helper()
	srv := servertest.Start(t, func(cfg *config.Config) {
		cfg.Shards = 4
		cfg.Loops = 2
		if o.tweak != nil {
			o.tweak(cfg)
		}
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	e := &env{srv: srv, addr: srv.Addr().String(), token: o.token, drained: make(chan struct{})}
	var once sync.Once
	e.adm, err = admin.New(srv, admin.Config{
		Addr:    "127.0.0.1:0",
		Token:   o.token,
		Logger:  log,
		OnDrain: func() { once.Do(func() { close(e.drained) }) },
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.adm.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.adm.Stop(ctx); err != nil {
			t.Errorf("admin stop: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("admin serve: %v", err)
		}
	})
	e.conn, err = grpc.NewClient(e.adm.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.conn.Close() })
	e.api = adminv1.NewAdminServiceClient(e.conn)
	e.health = healthpb.NewHealthClient(e.conn)
	return e
}

// ctx is a call context carrying the env's token, if any.
func (e *env) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	if e.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+e.token)
	}
	return ctx
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

// quiet reads frames until none comes for d and returns them.
func quiet(t *testing.T, c *wstest.Client, d time.Duration) []wstest.Frame {
	t.Helper()
	var fs []wstest.Frame
	for {
		f, err := c.Next(d)
		if wstest.IsTimeout(err) {
			return fs
		}
		if err != nil {
			t.Fatalf("%s: %v", c.Nick, err)
		}
		fs = append(fs, f)
	}
}

// quietAll runs quiet on every client at once and returns how many frames
// each got.
func quietAll(t *testing.T, cs []*wstest.Client, d time.Duration) [][]wstest.Frame {
	t.Helper()
	out := make([][]wstest.Frame, len(cs))
	var wg sync.WaitGroup
	errs := make(chan error, len(cs))
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				f, err := c.Next(d)
				if wstest.IsTimeout(err) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				out[i] = append(out[i], f)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

// join moves c to room (which must exist) and waits for its own joined event.
func join(t *testing.T, c *wstest.Client, room string) {
	t.Helper()
	if err := c.Send("switchroom", map[string]any{"room": room}, nil); err != nil {
		t.Fatal(err)
	}
	for {
		f, _ := c.Until(t, "joined")
		if f.Str("nickname") == c.Nick && f.Str("room") == room {
			return
		}
	}
}

// eventually polls cond every 10 ms for up to 3 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readyz(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// recvMessages reads c's frames until it has n `message` frames (other
// frames, such as late membership events, are skipped) and returns them.
func recvMessages(t *testing.T, c *wstest.Client, n int) ([]wstest.Frame, error) {
	var ms []wstest.Frame
	for len(ms) < n {
		f, err := c.Next(5 * time.Second)
		if err != nil {
			return ms, fmt.Errorf("%s: after %d of %d messages: %w", c.Nick, len(ms), n, err)
		}
		if f.Type() == "message" {
			ms = append(ms, f)
		}
	}
	// Then nothing more for a while.
	for {
		f, err := c.Next(100 * time.Millisecond)
		if wstest.IsTimeout(err) {
			return ms, nil
		}
		if err != nil {
			return ms, fmt.Errorf("%s: %w", c.Nick, err)
		}
		if f.Type() == "message" {
			return ms, fmt.Errorf("%s: unexpected extra message %v", c.Nick, f)
		}
	}
}

// recvAll runs recvMessages on every client at once; want[i] is client i's
// count.
func recvAll(t *testing.T, cs []*wstest.Client, want []int) [][]wstest.Frame {
	t.Helper()
	out := make([][]wstest.Frame, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = recvMessages(t, c, want[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}
