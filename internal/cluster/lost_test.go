package cluster_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
)

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
// one, and when that NATS goes away the node goes not-ready and closes its
// clients with 1012 so they reconnect elsewhere.
func TestNodeCutOffFromNATSGoesNotReady(t *testing.T) {
	ns := servertest.NATS(t, 0)
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
}
