package cluster

import (
	"slices"
	"testing"

	"github.com/ics-chat/ics/internal/shard"
)

// Go refuses work past MaxInFlight (the caller answers server_busy) and
// counts the refusal; finished work frees its slot.
func TestGoRefusesPastMaxInFlight(t *testing.T) {
	n := New(Options{NodeID: "t", MaxInFlight: 2})
	release := make(chan struct{})
	for i := range 2 {
		if !n.Go(func() { <-release }) {
			t.Fatalf("work %d refused below the limit", i)
		}
	}
	if n.Go(func() {}) {
		t.Fatal("third concurrent work accepted with MaxInFlight 2")
	}
	if got := n.Stats().Busy.Load(); got != 1 {
		t.Fatalf("busy count %d, want 1", got)
	}
	close(release)
	n.wg.Wait()
	done := make(chan struct{})
	if !n.Go(func() { close(done) }) {
		t.Fatal("work refused after the others finished")
	}
	<-done
	n.wg.Wait()
}

// Events past OutboxLimit are dropped and counted; watch changes never are
// (a lost unsubscribe would leak a subscription).
func TestOutboxDropsEventsPastLimit(t *testing.T) {
	n := New(Options{NodeID: "t", OutboxLimit: 3})
	for range 5 {
		n.Out("r", shard.Event{Kind: shard.EvMessage, Frame: []byte("x")})
	}
	n.Watch("r", true)
	q, _ := n.out.take(nil)
	events := 0
	for _, it := range q {
		if it.data != nil {
			events++
		}
	}
	if events != 3 || len(q) != 4 || !q[3].watch {
		t.Fatalf("queued %d events of 5 (%d items), want 3 events and the watch change", events, len(q))
	}
	if got := n.Stats().Dropped.Load(); got != 2 {
		t.Fatalf("dropped %d, want 2", got)
	}
}

func TestEventEnvelope(t *testing.T) {
	tests := []struct {
		name string
		ev   shard.Event
	}{
		{"message", shard.Event{Kind: shard.EvMessage, Stream: "s1-0-1", Seq: 300, Frame: []byte(`{"type":"message"}`)}},
		{"nick", shard.Event{Kind: shard.EvNick, Nick: "new", Old: "old", Frame: []byte(`{}`)}},
		{"snapshot", shard.Event{Kind: shard.EvSnapshot, Nicks: []string{"a", "bb", "ccc"}}},
		{"empty snapshot", shard.Event{Kind: shard.EvSnapshot}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encodeEvent("n1.abc", &tt.ev)
			got, err := decodeEvent(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Origin != "n1.abc" || got.Kind != tt.ev.Kind || got.Stream != tt.ev.Stream || got.Seq != tt.ev.Seq || got.Nick != tt.ev.Nick || got.Old != tt.ev.Old ||
				!slices.Equal(got.Nicks, tt.ev.Nicks) || string(got.Frame) != string(tt.ev.Frame) {
				t.Fatalf("round trip: %+v, want %+v", got, tt.ev)
			}
			// Every truncation of the header is refused, never a panic.
			header := len(b) - len(tt.ev.Frame)
			for i := 0; i < header; i++ {
				if _, err := decodeEvent(b[:i]); err == nil {
					t.Fatalf("truncated to %d of %d header bytes: accepted", i, header)
				}
			}
		})
	}
	if _, err := decodeEvent([]byte{1, 200, 200, 200}); err == nil {
		t.Fatal("length past the end accepted")
	}
}
