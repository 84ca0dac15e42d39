package cluster_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
)

// startNATSCluster runs n standalone NATS servers routed to each other,
// JetStream clustered: an existing NATS cluster as operators run one.
func startNATSCluster(t *testing.T, n int) []*natsserver.Server {
	t.Helper()
	ports := servertest.FreePorts(t, 2*n)
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
	}
	out := make([]*natsserver.Server, n)
	for i := range n {
		ns, err := natsserver.NewServer(&natsserver.Options{
			ServerName: fmt.Sprintf("s%d", i+1),
			Host:       "127.0.0.1", Port: ports[i],
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: natsserver.ClusterOpts{Name: "ops", Host: "127.0.0.1", Port: ports[n+i]},
			Routes:  natsserver.RoutesFromStr(strings.Join(routes, ",")),
		})
		if err != nil {
			t.Fatal(err)
		}
		ns.Start()
		t.Cleanup(ns.Shutdown)
		out[i] = ns
	}
	for _, ns := range out {
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatal("NATS server not ready")
		}
	}
	return out
}

func readyz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body["status"]
}

// A node joined to an existing NATS (-nats-url) works like an embedded
// one. When that NATS goes away the node goes not-ready and closes its
// clients with 1012 so they reconnect elsewhere; when NATS is back (here
// restarted empty on the same port), the node rejoins and serves again.
func TestNodeCutOffFromNATSGoesNotReadyThenRejoins(t *testing.T) {
	ns := servertest.NATS(t, 0)
	port := ns.Addr().(*net.TCPAddr).Port
	srv := servertest.Start(t, func(c *config.Config) {
		c.NodeID = "solo"
		c.NATSURLs = []string{ns.ClientURL()}
	})
	addr := srv.Addr().String()
	if st, s := readyz(t, addr); st != http.StatusOK {
		t.Fatalf("readyz before: %d %s", st, s)
	}
	a := wstest.Dial(t, addr, "anna")
	if _, st, _ := wstest.Auth(addr, "ANNA"); st != http.StatusConflict {
		t.Fatalf("second claim of anna: %d, want 409", st)
	}
	ns.Shutdown()
	if code, _ := a.ExpectClose(t, 10*time.Second); code != 1012 {
		t.Fatalf("close code %d, want 1012", code)
	}
	if st, s := readyz(t, addr); st != http.StatusServiceUnavailable || s != "cluster_lost" {
		t.Fatalf("readyz after: %d %s, want 503 cluster_lost", st, s)
	}
	if _, st, _ := wstest.Auth(addr, "bert"); st != http.StatusServiceUnavailable {
		t.Fatalf("/auth after the loss: %d, want 503", st)
	}
	if _, err := wstest.DialToken(addr, a.Token); err == nil {
		t.Fatal("/ws accepted while the cluster is lost")
	}

	servertest.NATS(t, port)
	eventually(t, 20*time.Second, "node ready again after NATS came back", func() bool {
		st, _ := readyz(t, addr)
		return st == http.StatusOK
	})
	back, err := wstest.DialToken(addr, a.Token)
	if err != nil {
		t.Fatalf("anna reconnecting with her token after the rejoin: %v", err)
	}
	defer back.Close()
	back.Expect(t, "joined")
	if _, st, _ := wstest.Auth(addr, "Anna"); st != http.StatusConflict {
		t.Fatalf("claim of Anna while anna is back: %d, want 409 (uniqueness kept after the rejoin)", st)
	}
}

// With an existing NATS cluster of three servers, a node whose NATS server
// dies closes its clients with 1012, reconnects through another server of
// the cluster and rejoins; a node on another NATS server keeps its clients
// throughout, and chat between the two works again afterwards.
func TestNodeRejoinsThroughAnotherNATSServer(t *testing.T) {
	nats := startNATSCluster(t, 3)
	n1 := servertest.Start(t, func(c *config.Config) {
		c.NodeID, c.NATSURLs = "n1", []string{nats[0].ClientURL()}
		c.CommandRate, c.CommandBurst = 1e6, 1e6
	})
	n2 := servertest.Start(t, func(c *config.Config) {
		c.NodeID, c.NATSURLs = "n2", []string{nats[2].ClientURL()}
		c.CommandRate, c.CommandBurst = 1e6, 1e6
	})
	a1, a2 := n1.Addr().String(), n2.Addr().String()
	eventually(t, 15*time.Second, "n1 and n2 see each other", func() bool {
		return len(n1.Cluster().Live()) == 2 && len(n2.Cluster().Live()) == 2
	})
	anna := wstest.Dial(t, a1, "anna")
	bert := wstest.Dial(t, a2, "bert")

	nats[0].Shutdown()
	if code, _ := anna.ExpectClose(t, 10*time.Second); code != 1012 {
		t.Fatalf("anna's close code %d, want 1012", code)
	}
	eventually(t, 30*time.Second, "n1 ready again through another NATS server", func() bool {
		st, _ := readyz(t, a1)
		return st == http.StatusOK
	})
	if st, s := readyz(t, a2); st != http.StatusOK {
		t.Fatalf("n2 readyz: %d %s, want 200 throughout", st, s)
	}
	back, err := wstest.DialToken(a1, anna.Token)
	if err != nil {
		t.Fatalf("anna reconnecting to n1 after the rejoin: %v", err)
	}
	defer back.Close()
	back.Expect(t, "joined")
	if _, st, _ := wstest.Auth(a2, "ANNA"); st != http.StatusConflict {
		t.Fatalf("claim of ANNA on n2 while anna is on n1: %d, want 409", st)
	}
	// bert never left: the frames he got meanwhile are presence only, and
	// anna's message after the rejoin reaches him on the other node.
	eventually(t, 10*time.Second, "a message from anna on n1 reaches bert on n2", func() bool {
		if err := back.Send("message", map[string]any{"body": "back again"}, nil); err != nil {
			t.Fatal(err)
		}
		for {
			f, err := bert.Next(300 * time.Millisecond)
			if err != nil {
				if wstest.IsTimeout(err) {
					return false
				}
				t.Fatalf("bert: %v (he should have stayed connected)", err)
			}
			if f.Type() == "message" && f.Str("body") == "back again" {
				return true
			}
		}
	})
}
