package admin_test

import (
	"testing"

	"github.com/ics-chat/ics/internal/wstest"
	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

// ListRooms shows each room's seq, epoch and kept history bytes; an admin
// broadcast is a numbered message like any other and is kept for history.
func TestListRoomsShowsSeqAndHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	alice := wstest.Dial(t, e.addr, "alice")
	for _, body := range []string{"one", "two", "three"} {
		if err := alice.Send("message", map[string]any{"body": body}, nil); err != nil {
			t.Fatal(err)
		}
		alice.Expect(t, "message")
	}
	if _, err := e.api.Broadcast(ctx, &adminv1.BroadcastRequest{Room: "global", Body: "from ops"}); err != nil {
		t.Fatal(err)
	}
	if f := alice.Expect(t, "message"); f["seq"] != float64(4) || f.Str("from") != "system" {
		t.Fatalf("broadcast frame %v, want seq 4 from system", f)
	}
	if err := alice.Send("history", map[string]any{"since": 2}, nil); err != nil {
		t.Fatal(err)
	}
	h := alice.Expect(t, "history")
	if msgs, _ := h["messages"].([]any); len(msgs) != 2 || msgs[1].(map[string]any)["body"] != "from ops" {
		t.Fatalf("history since 2: %v", h)
	}
	rooms, err := e.api.ListRooms(ctx, &adminv1.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms.Rooms) != 1 {
		t.Fatalf("rooms %v", rooms.Rooms)
	}
	g := rooms.Rooms[0]
	// Four frames of about 100 bytes each, plus their ring slots.
	if g.Seq != 4 || g.Epoch != alice.Joined.Str("epoch") || g.HistoryBytes < 4*80 || g.HistoryBytes > 4*400 {
		t.Fatalf("global listed as %v, want seq 4, epoch %q and 4 frames of history", g, alice.Joined.Str("epoch"))
	}
}
