package server_test

import (
	"testing"

	"github.com/ics-chat/ics/internal/wstest"
)

func TestMessageReachesRoomWithSpoofedFromIgnored(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	alice := wstest.Dial(t, addr, "alice")
	bob := wstest.Dial(t, addr, "bob")
	alice.Expect(t, "joined") // bob joined
	// Neither a forged from nor a forged server marker survives.
	if err := bob.Send("message", map[string]any{"body": "hi there", "from": "mallory", "server": true}, "7"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wstest.Client{alice, bob} {
		f := c.Expect(t, "message")
		if f.Str("from") != "bob" || f.Str("body") != "hi there" || f.Str("room") != "global" {
			t.Fatalf("%s got %v", c.Nick, f)
		}
		if _, ok := f["id"]; ok {
			t.Fatalf("broadcast carries an id: %v", f)
		}
		if _, ok := f["server"]; ok {
			t.Fatalf("a user's message carries the server marker: %v", f)
		}
		if ts, _ := f["ts"].(float64); ts <= 0 {
			t.Fatalf("no ts: %v", f)
		}
	}
}
