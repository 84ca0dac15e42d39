package bench

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ics-chat/ics/bench/gorillahub"
	"github.com/ics-chat/ics/internal/loadgen"
)

// BenchmarkGorillaFanout runs the load generator against the gorilla
// baseline over real loopback sockets: 500 connections in 5 rooms, 10
// publishers per room at 20 msgs/s (100 members per room → 100k
// deliveries/s offered) for 3 s per iteration. It reports deliveries/s and
// latency percentiles; an iteration with loss fails the benchmark.
func BenchmarkGorillaFanout(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen on 127.0.0.1:0: %v", err)
	}
	hub := gorillahub.New(gorillahub.Options{})
	srv := &http.Server{Handler: hub, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); _ = hub.Close() }()

	var rate, p50, p99 float64
	i := 0
	for b.Loop() {
		cfg := loadgen.DefaultConfig()
		cfg.Addr = ln.Addr().String()
		cfg.Prefix = "bench" + string(rune('a'+i%26))
		i++
		cfg.Conns, cfg.Rooms, cfg.Publishers, cfg.Rate, cfg.Size = 500, 5, 10, 20, 100
		cfg.Duration, cfg.Warmup, cfg.Drain = 3*time.Second, time.Second, 3*time.Second
		rep, err := loadgen.RunFanout(context.Background(), cfg)
		if err != nil {
			b.Fatalf("RunFanout: %v", err)
		}
		if !rep.OK() {
			b.Fatalf("fanout failed: %v", rep.Failures)
		}
		rate += rep.DeliveriesPerSec
		p50 += rep.Latency.P50Ms
		p99 += rep.Latency.P99Ms
	}
	n := float64(i)
	b.ReportMetric(rate/n, "deliveries/s")
	b.ReportMetric(p50/n, "p50-ms")
	b.ReportMetric(p99/n, "p99-ms")
}
