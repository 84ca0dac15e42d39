package shard

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// fakeBridge records what a shard sends to other nodes.
type fakeBridge struct {
	mu  sync.Mutex
	out []Event
}

func (b *fakeBridge) Watch(string, bool) {}
func (b *fakeBridge) Out(_ string, ev Event) {
	b.mu.Lock()
	b.out = append(b.out, ev)
	b.mu.Unlock()
}

func (b *fakeBridge) sent() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Event(nil), b.out...)
}

// remoteMessage is a sealed message frame as another node sends it.
func remoteMessage(from string) []byte {
	return command.SealMessage(command.OpenMessage(nil, from, command.GlobalRoom, "hi", 1), 7)
}

func (r *rig) epoch(t *testing.T, room string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	rooms, err := r.g.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ri := range rooms {
		if ri.Name == room {
			return ri.Epoch
		}
	}
	t.Fatalf("no room %s", room)
	return ""
}

// TestRemoteGap: events another node sends for a room are numbered in its
// stream; a number skipped means events were lost on the way, and the local
// members are told (Missed) and the room's history line breaks. A new
// stream (the room recreated there) or a first event is no gap.
func TestRemoteGap(t *testing.T) {
	r := newRigWith(t, 2, Options{Bridge: &fakeBridge{}})
	ann := r.connect(t, "ann", "j1")
	gs := r.g.Shard(r.g.RoomShard(command.GlobalRoom))
	send := func(stream string, seq uint64) {
		gs.Remote(command.GlobalRoom, Event{Kind: EvMessage, Origin: "n2.a", Stream: stream, Seq: seq, Frame: remoteMessage("bob")})
	}
	send("s1", 5) // the first heard: where the stream starts here
	send("s1", 6)
	ann.expect(t, "message global bob", "message global bob")
	before := r.epoch(t, command.GlobalRoom)

	send("s1", 8) // 7 never came
	ann.expect(t, "Missed()", "message global bob")
	if after := r.epoch(t, command.GlobalRoom); after == before {
		t.Fatalf("epoch %s unchanged after a gap: history would call the old line complete", after)
	}
	if got := gs.Stats().RemoteGaps.Load(); got != 1 {
		t.Fatalf("RemoteGaps %d, want 1", got)
	}

	send("s1", 9)
	send("s2", 1) // the room was recreated there: a new stream
	send("s2", 2)
	ann.expect(t, "message global bob", "message global bob", "message global bob")
	ann.quiet(t)
	if got := gs.Stats().RemoteGaps.Load(); got != 1 {
		t.Fatalf("RemoteGaps %d after in-order events, want still 1", got)
	}
}

// TestBridgeOutNumbersEvents: what a room sends to other nodes is
// numbered 1, 2, 3… in one stream named by the room.
func TestBridgeOutNumbersEvents(t *testing.T) {
	b := &fakeBridge{}
	r := newRigWith(t, 1, Options{Bridge: b})
	ann := r.connect(t, "ann", "j1")
	gs := r.g.Shard(r.g.RoomShard(command.GlobalRoom))
	for range 3 {
		gs.Publish(ann, command.OpenMessage(make([]byte, 0, 256), "ann", command.GlobalRoom, "x", 1))
	}
	ann.expect(t, "message global ann", "message global ann", "message global ann")
	evs := b.sent()
	if len(evs) != 4 { // ann's joined, then three messages
		t.Fatalf("sent %d events, want 4: %+v", len(evs), evs)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.Stream == "" || ev.Stream != evs[0].Stream {
			t.Fatalf("event %d: stream %q seq %d, want one stream numbered 1..4", i, ev.Stream, ev.Seq)
		}
	}
}
