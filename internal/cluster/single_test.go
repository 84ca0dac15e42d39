package cluster_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
)

// Without cluster flags a server starts no cluster: no NATS, no cluster
// metrics, and chat works as always.
func TestSingleNodeHasNoCluster(t *testing.T) {
	srv := servertest.Start(t, nil)
	if srv.Cluster() != nil {
		t.Fatal("a server without -cluster-listen or -nats-url has a cluster node")
	}
	a := wstest.Dial(t, srv.Addr().String(), "solo")
	if err := a.Send("message", map[string]any{"body": "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	a.Expect(t, "message")
	resp, err := http.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), "ics_cluster_") {
		t.Fatal("a single node exports cluster metrics")
	}
}
