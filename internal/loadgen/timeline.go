package loadgen

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// timeline samples the engine once a second from start until done closes.
func timeline(e *engine, sent *atomic.Uint64, up int, start int64, done <-chan struct{}, status progress) []Second {
	var out []Second
	if d := time.Duration(start - e.nowNs()); d > 0 {
		select {
		case <-done:
			return nil
		case <-time.After(d):
		}
	}
	_, _ = e.window() // discard anything before start
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastSent uint64
	var maxP99 float64
	for sec := 0; ; sec++ {
		select {
		case <-done:
			return out
		case <-t.C:
		}
		n, h := e.window()
		s := sent.Load()
		sum := Summarize(h)
		pt := Second{T: sec, Sent: s - lastSent, Deliveries: n, P50Ms: sum.P50Ms, P90Ms: sum.P90Ms,
			P99Ms: sum.P99Ms, MaxMs: sum.MaxMs, ConnsUp: up - int(e.closedN.Load())}
		if churn := e.churn.Load(); churn != nil {
			pt.ChurnCycles, pt.ChurnFailures = churn.cycles.Load(), churn.failures.Load()+churn.refused.Load()
		}
		lastSent = s
		out = append(out, pt)
		maxP99 = math.Max(maxP99, sum.P99Ms)
		if status != nil {
			line := fmt.Sprintf("t=%ds conns %d | %d msgs/s sent | %d deliveries/s | p99 %.2f ms (worst second %.2f ms)",
				sec+1, pt.ConnsUp, pt.Sent, pt.Deliveries, sum.P99Ms, maxP99)
			if e.churn.Load() != nil {
				line += fmt.Sprintf(" | churn %d cycles, %d failed", pt.ChurnCycles, pt.ChurnFailures)
			}
			status(line)
		}
	}
}

// steadyRate averages deliveries/s over the timeline seconds after warmup
// and inside the publishing window; fallback when there are none.
func steadyRate(tl []Second, cfg *Config, fallback float64) float64 {
	lo := int(math.Ceil(cfg.Warmup.Seconds()))
	hi := int(cfg.Duration.Seconds())
	var sum uint64
	n := 0
	for _, s := range tl {
		if s.T >= lo && s.T < hi {
			sum += s.Deliveries
			n++
		}
	}
	if n == 0 {
		return fallback
	}
	return float64(sum) / float64(n)
}
