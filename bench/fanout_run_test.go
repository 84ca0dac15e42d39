package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/loadgen"
)

// fanoutShape is one loadgen fan-out scenario: 100-byte bodies, 3 s per
// iteration with 1 s of warmup.
type fanoutShape struct {
	conns, rooms, publishers int
	rate                     float64
}

// runFanout runs shape against addr once per benchmark iteration, fails the
// benchmark on any loss or broken invariant and reports the mean
// deliveries/s, p50 and p99.
func runFanout(b *testing.B, addr, prefix string, shape fanoutShape) {
	var rate, p50, p99 float64
	i := 0
	for b.Loop() {
		cfg := loadgen.DefaultConfig()
		cfg.Addr = addr
		cfg.Prefix = fmt.Sprintf("%s%d", prefix, i)
		i++
		cfg.Conns, cfg.Rooms, cfg.Publishers, cfg.Rate, cfg.Size = shape.conns, shape.rooms, shape.publishers, shape.rate, 100
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
