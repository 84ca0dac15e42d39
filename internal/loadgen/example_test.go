package loadgen_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ics-chat/ics/internal/loadgen"
)

// A smoke test of any protocol-v1 server listening on loopback: 50
// connections in 5 rooms, 2 publishers per room at 10 msgs/s for 2 s.
func ExampleRunFanout() {
	cfg := loadgen.DefaultConfig()
	cfg.Addr = "127.0.0.1:8080"
	cfg.Prefix = "smoke" // nicknames smoke_0…smoke_49, rooms smoke_r0…smoke_r4
	cfg.Conns, cfg.Rooms, cfg.Publishers, cfg.Rate = 50, 5, 2, 10
	cfg.Duration, cfg.Warmup = 2*time.Second, 500*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := loadgen.RunFanout(ctx, cfg)
	if err != nil {
		fmt.Println("could not run:", err)
		return
	}
	if !rep.OK() {
		fmt.Println("invariants failed:", rep.Failures)
	}
	fmt.Printf("%.0f deliveries/s, p99 %.1f ms, lost %d\n", rep.DeliveriesPerSec, rep.Latency.P99Ms, rep.Lost)
}
