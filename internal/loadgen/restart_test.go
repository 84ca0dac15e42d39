package loadgen_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/loadgen"
	"github.com/ics-chat/ics/internal/servertest"
)

// TestFanoutChecksTheLastMessageBeforeARestart drains the server in the
// middle of a fan-out run, as SIGTERM does: the report names the
// connections closed with 1012 and finds that in every room each member saw
// the same last message (the server flushes what it accepted before it
// closes anyone).
func TestFanoutChecksTheLastMessageBeforeARestart(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.Loops, c.Shards = 2, 2 })
	lc := loadgen.DefaultConfig()
	lc.Addr = srv.Addr().String()
	lc.Prefix = "restart"
	lc.Conns, lc.Rooms, lc.Publishers, lc.Rate, lc.Size = 60, 3, 4, 50, 100
	lc.Duration, lc.Warmup, lc.Drain, lc.Settle = 3*time.Second, 0, time.Second, 10*time.Second
	go func() {
		time.Sleep(1500 * time.Millisecond) // connected and publishing by then
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Drain(ctx)
	}()
	rep, err := loadgen.RunFanout(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	rc := rep.Restart
	if rc == nil || rc.Conns != lc.Conns || rc.Rooms != lc.Rooms {
		t.Fatalf("restart check %+v, want all %d connections in %d rooms closed with 1012 (close codes %v)", rc, lc.Conns, lc.Rooms, rep.CloseCodes)
	}
	if rc.Consistent != rc.Rooms {
		t.Fatalf("rooms where every member saw the same last message: %d of %d: %v", rc.Consistent, rc.Rooms, rc.Mismatches)
	}
	if rep.OK() {
		t.Fatal("a run the server closed in the middle reported no failure")
	}
	for _, f := range rep.Failures {
		if strings.HasPrefix(f, "restart:") {
			t.Fatalf("restart invariant failed: %s", f)
		}
	}
}
