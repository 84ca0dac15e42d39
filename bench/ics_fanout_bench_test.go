package bench

import (
	"testing"

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
		name  string
		shape fanoutShape
	}{
		{"sparse", fanoutShape{500, 5, 10, 20}},
		{"dense", fanoutShape{1000, 10, 100, 10}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := loadgen.RaiseFileLimit(); err != nil {
				b.Logf("raise open-file limit: %v", err)
			}
			srv := servertest.Start(b, nil)
			var writes0, frames0 uint64
			for _, st := range srv.WS().LoopStats() {
				writes0 += st.Writes.Load()
				frames0 += st.Frames.Load()
			}
			runFanout(b, srv.Addr().String(), "b"+bc.name[:1], bc.shape)
			var writes, frames uint64
			for _, st := range srv.WS().LoopStats() {
				writes += st.Writes.Load()
				frames += st.Frames.Load()
			}
			if writes > writes0 {
				b.ReportMetric(float64(frames-frames0)/float64(writes-writes0), "frames/write")
			}
		})
	}
}
