package server_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/server"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
)

func TestDrainClosesEveryClientWith1012(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	var clients []*wstest.Client
	for _, n := range []string{"d1", "d2", "d3", "d4"} {
		clients = append(clients, wstest.Dial(t, addr, n))
	}
	if st := get(t, addr, "/readyz"); st != 200 {
		t.Fatalf("readyz %d before drain", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if code, _ := c.ExpectClose(t, 5*time.Second); code != 1012 {
			t.Fatalf("%s closed with %d, want 1012", c.Nick, code)
		}
	}
	if st := get(t, addr, "/readyz"); st != 503 {
		t.Fatalf("readyz %d while draining, want 503", st)
	}
	if st := get(t, addr, "/healthz"); st != 200 {
		t.Fatalf("healthz %d while draining, want 200", st)
	}
	// No new upgrades, no new tokens.
	if _, st, _ := wstest.Auth(addr, "latecomer"); st != 503 {
		t.Fatalf("auth while draining: %d, want 503", st)
	}
	tok := clients[0].Token
	_, err := wstest.DialToken(addr, tok)
	var de *wstest.DialError
	if !asDial(err, &de) || de.Status != 503 {
		t.Fatalf("upgrade while draining: %v, want 503", err)
	}
}

func get(t testing.TB, addr, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Drain during a steady publish loses nothing accepted: every member of the
// room, whatever its event loop, sees the same last message before 1012.
func TestDrainEveryMemberSeesSameLastMessage(t *testing.T) {
	srv := start(t, func(c *config.Config) {
		noLimits(c)
		c.Loops, c.Shards = 4, 4
	})
	addr := srv.Addr().String()
	const members, publishers = 12, 4
	var clients []*wstest.Client
	for i := range members {
		clients = append(clients, wstest.Dial(t, addr, fmt.Sprintf("dm%d", i)))
	}
	last := make([]string, members)
	codes := make([]int, members)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				f, err := c.Next(10 * time.Second)
				if err != nil {
					var ce *wstest.CloseError
					if asClose(err, &ce) {
						codes[i] = ce.Code
					}
					return
				}
				if f.Type() == "message" {
					last[i] = f.Str("body")
				}
			}
		}()
	}
	stop := make(chan struct{})
	var pw sync.WaitGroup
	for p := range publishers {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if clients[p].Send("message", map[string]any{"body": fmt.Sprintf("p%d-%d", p, n)}, nil) != nil {
					return
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	pw.Wait()
	wg.Wait()
	for i := range members {
		if codes[i] != 1012 {
			t.Errorf("member %d closed with %d, want 1012", i, codes[i])
		}
		if last[i] == "" || last[i] != last[0] {
			t.Errorf("member %d last saw %q, member 0 %q", i, last[i], last[0])
		}
	}
}

// A server whose Start failed (its port is taken) still stops: Stop returns
// at once instead of waiting for a sweeper that never ran.
func TestStopAfterFailedStart(t *testing.T) {
	busy := start(t, nil)
	cfg := servertest.Config()
	cfg.HTTPAddr = busy.Addr().String()
	srv, err := server.New(cfg, servertest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil {
		t.Fatalf("Start on %s, which another server holds, succeeded", cfg.HTTPAddr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Stop(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Stop after a failed Start: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop after a failed Start did not return in 10s")
	}
}
