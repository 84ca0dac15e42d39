package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/loadgen"
	"github.com/ics-chat/ics/internal/servertest"
)

// BenchmarkICSFanout runs the load generator against a real ICS server
// (started in-process on 127.0.0.1:0, default limits) over loopback sockets.
// "sparse" is the shape of BenchmarkGorillaFanout (100k deliveries/s
// offered); "dense" is the scenario, 1,000 connections in 10 rooms
// with every member publishing 10 msgs/s (1M deliveries/s offered). Each
// reports deliveries/s, latency percentiles and frames per write call (from
// the server's own counters); an iteration with loss fails the benchmark.
func BenchmarkICSFanout(b *testing.B) {
	for _, bc := range []struct {
		name                     string
		conns, rooms, publishers int
		rate                     float64
	}{
		{"sparse", 500, 5, 10, 20},
		{"dense", 1000, 10, 100, 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := loadgen.RaiseFileLimit(); err != nil {
				b.Logf("raise open-file limit: %v", err)
			}
			srv := servertest.Start(b, nil)
			var rate, p50, p99 float64
			var writes0, frames0 uint64
			for _, st := range srv.WS().LoopStats() {
				writes0 += st.Writes.Load()
				frames0 += st.Frames.Load()
			}
			i := 0
			for b.Loop() {
				lc := loadgen.DefaultConfig()
				lc.Addr = srv.Addr().String()
				lc.Prefix = fmt.Sprintf("b%s%d", bc.name[:1], i)
				i++
				lc.Conns, lc.Rooms, lc.Publishers, lc.Rate, lc.Size = bc.conns, bc.rooms, bc.publishers, bc.rate, 100
				lc.Duration, lc.Warmup, lc.Drain = 3*time.Second, time.Second, 3*time.Second
				rep, err := loadgen.RunFanout(context.Background(), lc)
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
			var writes, frames uint64
			for _, st := range srv.WS().LoopStats() {
				writes += st.Writes.Load()
				frames += st.Frames.Load()
			}
			n := float64(i)
			b.ReportMetric(rate/n, "deliveries/s")
			b.ReportMetric(p50/n, "p50-ms")
			b.ReportMetric(p99/n, "p99-ms")
			if writes > writes0 {
				b.ReportMetric(float64(frames-frames0)/float64(writes-writes0), "frames/write")
			}
		})
	}
}
