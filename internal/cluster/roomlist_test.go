package cluster_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/shard"
	"github.com/ics-chat/ics/internal/wstest"
)

// pushedRooms reads frames until a pushed `rooms` frame (one without an
// id) whose list satisfies ok, and fails after timeout.
func pushedRooms(t *testing.T, c *wstest.Client, timeout time.Duration, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []string
	for {
		f, err := c.Next(time.Until(deadline))
		if err != nil {
			t.Fatalf("%s: no pushed rooms frame as wanted (last pushed %v): %v", c.Nick, last, err)
		}
		if _, hasID := f["id"]; f.Type() == "rooms" && !hasID {
			if last = f.Strings("rooms"); ok(last) {
				return last
			}
		}
	}
}

// testRoomListPushAcrossNodes: a watcher on n2 is told about a room created
// on n1 and about its deletion, without asking again.
func testRoomListPushAcrossNodes(t *testing.T, c *cluster) {
	watcher := wstest.Dial(t, c.addr(1), "roomwatcher")
	maker := wstest.Dial(t, c.addr(0), "roommaker")
	if err := watcher.Send("listrooms", map[string]any{"watch": true}, "w1"); err != nil {
		t.Fatal(err)
	}
	// The reply (a push may come before it: the watch starts first).
	f, _ := watcher.Until(t, "rooms")
	for f.Str("id") != "w1" {
		f, _ = watcher.Until(t, "rooms")
	}
	if slices.Contains(f.Strings("rooms"), "pushed") {
		t.Fatalf("listrooms reply: %v", f)
	}
	wait := 5 * shard.DefaultRoomsPushInterval
	if err := maker.Send("createroom", map[string]any{"name": "pushed"}, nil); err != nil {
		t.Fatal(err)
	}
	pushedRooms(t, watcher, wait, func(rs []string) bool { return slices.Contains(rs, "pushed") && slices.Contains(rs, "global") })
	// The room goes when its last member (on n1) leaves it.
	if err := maker.Send("switchroom", map[string]any{"room": "global"}, nil); err != nil {
		t.Fatal(err)
	}
	pushedRooms(t, watcher, wait, func(rs []string) bool { return !slices.Contains(rs, "pushed") && slices.Contains(rs, "global") })
}
