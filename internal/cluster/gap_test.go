package cluster_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
)

// TestLostRemoteMessagesAreNoSilentGap: a node whose room shard cannot
// take another node's messages as fast as they come (here a shard inbox
// of 1) drops some; its members must not go on as if nothing happened.
// They are closed with 1012, and back on the node their history request
// with the old epoch says complete:false.
func TestLostRemoteMessagesAreNoSilentGap(t *testing.T) {
	ns := servertest.NATS(t, 0)
	n1 := servertest.Start(t, func(c *config.Config) {
		c.NodeID, c.NATSURLs = "g1", []string{ns.ClientURL()}
		c.CommandRate, c.CommandBurst = 1e6, 1e6
	})
	n2 := servertest.Start(t, func(c *config.Config) {
		c.NodeID, c.NATSURLs = "g2", []string{ns.ClientURL()}
		c.ShardInbox, c.Shards = 1, 1
	})
	eventually(t, 15*time.Second, "g1 and g2 see each other", func() bool {
		return len(n1.Cluster().Live()) == 2 && len(n2.Cluster().Live()) == 2
	})
	a2 := n2.Addr().String()
	reader := wstest.Dial(t, a2, "reader")
	epoch := reader.Joined.Str("epoch")
	sender := wstest.Dial(t, n1.Addr().String(), "sender")
	waitJoined(t, reader, "global", "sender")

	var code int
	seen := 0
	for round := 0; code == 0 && round < 20; round++ {
		for i := range 500 {
			if err := sender.Send("message", map[string]any{"body": fmt.Sprintf("r%d-%d", round, i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for {
			f, err := reader.Next(2 * time.Second)
			if ce, ok := err.(*wstest.CloseError); ok {
				code = ce.Code
				break
			}
			if err != nil {
				break // quiet: every message of the round arrived; flood again
			}
			if f.Type() == "message" {
				seen++
			}
		}
	}
	if code != 1012 {
		t.Fatalf("reader saw %d messages and close %d, want a 1012 once messages were lost", seen, code)
	}
	back, err := wstest.DialToken(a2, reader.Token)
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	defer back.Close()
	back.Expect(t, "joined")
	if err := back.Send("history", map[string]any{"since": seen, "epoch": epoch}, "h"); err != nil {
		t.Fatal(err)
	}
	h, _ := back.Until(t, "history")
	if h["complete"] != false {
		t.Fatalf("history after lost messages: complete %v, want false", h["complete"])
	}
	if st, _ := readyz(t, a2); st != http.StatusOK {
		t.Fatalf("g2 readyz %d: a gap must not take the node out", st)
	}
}
