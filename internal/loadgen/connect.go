package loadgen

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// RunConnect ramps Conns connections at Rate per second (auth + upgrade
// each), holds them idle for Duration, and reports the connect rate,
// handshake latency percentiles and the server's memory per connection and
// CPU (from /proc/ServerPID or /metrics).
func RunConnect(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate("connect"); err != nil {
		return nil, err
	}
	rep := &Report{Mode: "connect", Config: cfg, Started: time.Now(), ConnsWanted: cfg.Conns}
	e, err := newEngine(&cfg)
	if err != nil {
		return nil, err
	}
	defer e.stop()
	srvA, srvOK := sampleServer(ctx, cfg.ServerPID, cfg.Addr)
	cpu := markCPU()
	hs := newHist()
	var last atomic.Int64
	t0 := time.Now()
	conns, errs := e.dialAll(ctx, cfg.Conns, cfg.Rate, func(int) int { return 0 }, hs, func(up int) {
		if now := time.Now().UnixNano(); now-last.Load() > int64(200*time.Millisecond) && cfg.Status != nil {
			last.Store(now)
			cfg.Status(fmt.Sprintf("connecting: %d/%d up, %.0f conns/s", up, cfg.Conns, float64(up)/time.Since(t0).Seconds()))
		}
	})
	ramp := time.Since(t0)
	for _, lc := range conns {
		if lc != nil {
			rep.ConnsUp++
		}
	}
	rep.ConnectErrors, rep.ConnectError = len(errs), errSummary(errs)
	rep.ConnectPerSec = float64(rep.ConnsUp) / ramp.Seconds()
	h := Summarize(hs)
	rep.Handshake = &h

	// Hold idle; the event loops answer pings.
	holdEnd := time.Now().Add(cfg.Duration)
	tick := time.NewTicker(time.Second)
	for sec := 1; time.Now().Before(holdEnd) && ctx.Err() == nil; sec++ {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		up := rep.ConnsUp - int(e.closedN.Load())
		rep.Timeline = append(rep.Timeline, Second{T: sec, ConnsUp: up})
		if cfg.Status != nil {
			cfg.Status(fmt.Sprintf("holding %d idle connections (%ds of %v)", up, sec, cfg.Duration))
		}
	}
	tick.Stop()
	if srvOK {
		if srvB, ok := sampleServer(context.Background(), cfg.ServerPID, cfg.Addr); ok {
			rep.Server = serverStats(cfg.ServerPID, srvA, srvB, rep.ConnsUp)
		}
	}
	rep.GeneratorCPU = cpu.since()
	rep.ClosedDuringRun = e.closedN.Load()
	_, codes, closes := e.merged()
	if len(codes) > 0 {
		rep.ErrorCodes = codes
	}
	if len(closes) > 0 {
		rep.CloseCodes = closes
	}
	rep.WallSec = time.Since(rep.Started).Seconds()
	if rep.ConnectErrors > 0 {
		rep.failf("connect: %d of %d connections failed (%s)", rep.ConnectErrors, cfg.Conns, rep.ConnectError)
	}
	if rep.ClosedDuringRun > 0 {
		rep.failf("closed: %d idle connections closed by the server while held (close codes %v)", rep.ClosedDuringRun, rep.CloseCodes)
	}
	if cfg.MinRate > 0 && rep.ConnectPerSec < cfg.MinRate {
		rep.failf("rate: %.0f connections/s below -min-rate %.0f", rep.ConnectPerSec, cfg.MinRate)
	}
	return rep, ctx.Err()
}
