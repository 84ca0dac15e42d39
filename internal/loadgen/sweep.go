package loadgen

import (
	"context"
	"fmt"
	"math"
	"time"
)

// DefaultSweepMaxP99 is the latency bound a sweep stops at when MaxP99 is unset.
const DefaultSweepMaxP99 = 50 * time.Millisecond

// RunSweep steps the offered load up from the configured one, a fresh fanout
// per step, until a step loses, duplicates or reorders messages, its p99
// exceeds MaxP99 (DefaultSweepMaxP99 when unset), or MaxSteps is reached.
// Each step multiplies the offered load by Step: first by adding publishers
// per room (up to the room size) so per-connection rates stay under a
// server's command limit, then by raising Rate. BestDeliveryRate is the
// highest deliveries/s of a passing step.
func RunSweep(ctx context.Context, cfg Config) (*Report, error) { return sweepCmd(ctx, cfg, nil) }

func sweepCmd(ctx context.Context, cfg Config, p progress) (*Report, error) {
	if err := cfg.Validate("sweep"); err != nil {
		return nil, err
	}
	if cfg.MaxP99 <= 0 {
		cfg.MaxP99 = DefaultSweepMaxP99
	}
	rep := &Report{Mode: "sweep", Config: cfg, Started: time.Now(), ConnsWanted: cfg.Conns}
	cpu := markCPU()
	cur := cfg
	for i := 0; i < cfg.MaxSteps; i++ {
		cur.Prefix = fmt.Sprintf("%s_s%d", cfg.Prefix, i)
		st, err := runFanout(ctx, &cur, "sweep-step", nil, p)
		if st != nil {
			rep.Steps = append(rep.Steps, *st)
			rep.ConnsUp, rep.ConnectErrors, rep.ConnectError = st.ConnsUp, st.ConnectErrors, st.ConnectError
		}
		if err != nil {
			rep.StopReason = fmt.Sprintf("step %d: %v", i, err)
			break
		}
		if !st.OK() {
			rep.StopReason = fmt.Sprintf("step %d (publishers/room %d, rate %.1f/s): %v", i, cur.Publishers, cur.Rate, st.Failures)
			break
		}
		rep.BestDeliveryRate = math.Max(rep.BestDeliveryRate, st.DeliveriesPerSec)
		if i == cfg.MaxSteps-1 {
			rep.StopReason = fmt.Sprintf("reached -max-steps %d", cfg.MaxSteps)
			break
		}
		roomSize := cfg.Conns / cfg.Rooms
		target := float64(cur.Publishers) * cur.Rate * cfg.Step // offered messages/s per room
		if np := int(math.Ceil(float64(cur.Publishers) * cfg.Step)); np <= roomSize {
			cur.Publishers = np
		}
		cur.Rate = target / float64(cur.Publishers)
	}
	rep.GeneratorCPU = cpu.since()
	rep.WallSec = time.Since(rep.Started).Seconds()
	if rep.BestDeliveryRate == 0 {
		rep.failf("sweep: no step sustained its load (%s)", rep.StopReason)
	}
	if cfg.MinRate > 0 && rep.BestDeliveryRate < cfg.MinRate {
		rep.failf("rate: best %.0f deliveries/s below -min-rate %.0f", rep.BestDeliveryRate, cfg.MinRate)
	}
	return rep, ctx.Err()
}
