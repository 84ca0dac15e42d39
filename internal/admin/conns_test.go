package admin_test

import (
	"context"
	"net"
	"testing"

	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"

	"github.com/ics-chat/ics/internal/wstest"
)

// TestConnectionsAddUp: the node's connections are its WebSocket
// connections and the loops' CONNS column adds up to them; a socket that is
// not a WebSocket (an idle HTTP keep-alive, like the /auth request's) counts
// only under SOCKETS.
func TestConnectionsAddUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	wstest.Dial(t, e.addr, "ws1")
	wstest.Dial(t, e.addr, "ws2")
	counts := func() (node, conns, sockets int64) {
		r, err := e.api.GetStats(ctx, &adminv1.GetStatsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range r.Loops {
			conns += l.Connections
			sockets += l.Sockets
		}
		return r.Node.Connections, conns, sockets
	}
	node, conns, before := counts()
	if node != 2 || conns != 2 || before < 2 {
		t.Fatalf("node connections %d, loops' connections %d, sockets %d: want 2, 2, >= 2", node, conns, before)
	}
	idle, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	eventually(t, "one more socket, no more connections", func() bool {
		node, conns, sockets := counts()
		return node == 2 && conns == 2 && sockets == before+1
	})
}
