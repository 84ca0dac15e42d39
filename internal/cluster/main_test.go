package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/server"
	"github.com/ics-chat/ics/internal/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, servertest.LeakOptions()...)
}

// cluster is n real ICS servers, each embedding a NATS server, routed to
// each other on loopback.
type cluster struct {
	t     testing.TB
	cfgs  []config.Config
	nodes []*server.Server
}

func nodeConfig(id string, listen int, peers []string) config.Config {
	cfg := servertest.Config()
	cfg.NodeID = id
	cfg.ClusterListen = fmt.Sprintf("127.0.0.1:%d", listen)
	cfg.ClusterPeers = peers
	cfg.CommandRate, cfg.CommandBurst = 1e6, 1e6
	return cfg
}

// startCluster starts n nodes at once (JetStream needs a quorum of them
// to come up).
func startCluster(t testing.TB, n int) *cluster {
	t.Helper()
	ports := servertest.FreePorts(t, n)
	var peers []string
	for _, p := range ports {
		peers = append(peers, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	c := &cluster{t: t, nodes: make([]*server.Server, n)}
	for i, p := range ports {
		c.cfgs = append(c.cfgs, nodeConfig(fmt.Sprintf("n%d", i+1), p, peers))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { c.nodes[i], errs[i] = startNode(c.cfgs[i]) })
	}
	wg.Wait()
	t.Cleanup(c.stop)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	c.waitLive(n)
	return c
}

// waitLive waits until every running node sees want nodes in the registry.
func (c *cluster) waitLive(want int) {
	c.t.Helper()
	for _, s := range c.nodes {
		if s != nil {
			eventually(c.t, 15*time.Second, s.Config().NodeID+" sees the cluster", func() bool { return len(s.Cluster().Live()) == want })
		}
	}
}

func startNode(cfg config.Config) (*server.Server, error) {
	srv, err := server.New(cfg, servertest.Logger())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	return srv, nil
}

func (c *cluster) stop() {
	var wg sync.WaitGroup
	for _, s := range c.nodes {
		if s == nil {
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := s.Stop(ctx); err != nil && !strings.Contains(err.Error(), "closed") {
				c.t.Errorf("stop %s: %v", s.Config().NodeID, err)
			}
		})
	}
	wg.Wait()
}

// addr is node i's HTTP address.
func (c *cluster) addr(i int) string { return c.nodes[i].Addr().String() }

// kill stops node i without a goodbye: its NATS server vanishes first, as
// with kill -9, so it can neither delete its record nor publish `left`.
func (c *cluster) kill(i int) {
	s := c.nodes[i]
	s.Cluster().NATSServer().Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = s.Stop(ctx)
	c.nodes[i] = nil
}

// restart starts node i again with its first configuration.
func (c *cluster) restart(i int) {
	c.t.Helper()
	s, err := startNode(c.cfgs[i])
	if err != nil {
		c.t.Fatalf("restart node %d: %v", i+1, err)
	}
	c.nodes[i] = s
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metric reads one sample (name plus labels, as printed) from node i's /metrics.
func (c *cluster) metric(i int, name string) float64 {
	c.t.Helper()
	resp, err := http.Get("http://" + c.addr(i) + "/metrics")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				c.t.Fatalf("metric %s: %v", name, err)
			}
			return v
		}
	}
	c.t.Fatalf("no metric %s on node %d", name, i+1)
	return 0
}
