package loadgen

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ics-chat/ics/bench/gorillahub"
)

// startHub serves the gorilla baseline on 127.0.0.1:0 and returns its address.
func startHub(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1:0: %v", err)
	}
	hub := gorillahub.New(gorillahub.Options{})
	srv := &http.Server{Handler: hub, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = hub.Close()
	})
	return ln.Addr().String()
}

func TestFanoutSmoke(t *testing.T) {
	t.Parallel()
	addr := startHub(t)
	tests := []struct {
		name               string
		conns, rooms, pubs int
		rate               float64
		size               int
	}{
		{"one room", 20, 1, 2, 50, 64},
		{"many rooms", 30, 3, 2, 40, 200},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Addr = addr
			cfg.Prefix = "smoke" + string(rune('a'+i))
			cfg.Conns, cfg.Rooms, cfg.Publishers, cfg.Rate, cfg.Size = tc.conns, tc.rooms, tc.pubs, tc.rate, tc.size
			cfg.Duration, cfg.Warmup, cfg.Drain = 1500*time.Millisecond, 500*time.Millisecond, 3*time.Second
			cfg.Loops = 2
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := RunFanout(ctx, cfg)
			if err != nil {
				t.Fatalf("RunFanout: %v", err)
			}
			if !rep.OK() {
				t.Fatalf("failures: %v", rep.Failures)
			}
			if rep.Sent == 0 || rep.Delivered != rep.Expected || rep.Lost != 0 {
				t.Fatalf("sent %d expected %d delivered %d lost %d", rep.Sent, rep.Expected, rep.Delivered, rep.Lost)
			}
			// every member of a room receives every message of its publishers
			perRoom := uint64(tc.conns / tc.rooms)
			if rep.Expected != rep.Sent*perRoom {
				t.Fatalf("expected %d, want sent %d × members %d", rep.Expected, rep.Sent, perRoom)
			}
			if rep.Latency.Count == 0 || rep.Latency.P99Ms <= 0 {
				t.Fatalf("no latency recorded: %+v", rep.Latency)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"remote refused", func(c *Config) { c.Addr = "10.0.0.1:80" }, false},
		{"remote allowed", func(c *Config) { c.Addr = "10.0.0.1:80"; c.AllowRemote = true }, true},
		{"loopback /8", func(c *Config) { c.Addr = "127.3.2.1:80" }, true},
		{"no port", func(c *Config) { c.Addr = "127.0.0.1" }, false},
		{"too many publishers", func(c *Config) { c.Conns = 10; c.Rooms = 5; c.Publishers = 3 }, false},
		{"warmup too long", func(c *Config) { c.Warmup = c.Duration }, false},
		{"bad compat", func(c *Config) { c.Compat = "v0" }, false},
		{"seed compat", func(c *Config) { c.Compat = CompatSeed }, true},
		{"zero rate", func(c *Config) { c.Rate = 0 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate("fanout")
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
