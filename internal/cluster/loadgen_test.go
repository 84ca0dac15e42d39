package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/loadgen"
)

// loadgen -url spreads every room's members over the nodes: each message
// crosses nodes, and none is lost, doubled or reordered.
func testLoadgenAcrossNodes(t *testing.T, c *cluster) {
	lc := loadgen.DefaultConfig()
	lc.URLs = []string{"http://" + c.addr(0), c.addr(1), "ws://" + c.addr(2) + "/ws"}
	lc.Prefix = "lgcluster"
	lc.Conns, lc.Rooms, lc.Publishers, lc.Rate, lc.Size = 60, 3, 2, 10, 100
	lc.Duration, lc.Warmup, lc.Drain, lc.Settle = 2*time.Second, 500*time.Millisecond, 3*time.Second, 10*time.Second
	in0 := c.metric(2, `ics_cluster_messages_in_total{node="n3"}`)
	rep, err := loadgen.RunFanout(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Delivered == 0 || rep.Delivered != rep.Expected {
		t.Fatalf("fanout over three nodes: delivered %d of %d, failures %v", rep.Delivered, rep.Expected, rep.Failures)
	}
	if c.metric(2, `ics_cluster_messages_in_total{node="n3"}`) == in0 {
		t.Fatal("n3 received nothing from the other nodes: connections were not spread")
	}
}
