package cluster_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/wstest"
)

// These steps are "History and recovery" in a cluster (README "Cluster"):
// each node numbers a room's messages in its own line (a frame from another
// node is renumbered by the receiving shard) and the room's epoch names the
// node's line, so recovery is exact on the same node and says
// complete:false on another.

// ownJoined moves cl into room and returns its own joined (seq and epoch of
// the room on cl's node).
func ownJoined(t *testing.T, cl *wstest.Client, room string) wstest.Frame {
	t.Helper()
	if err := cl.Send("switchroom", map[string]any{"room": room}, nil); err != nil {
		t.Fatal(err)
	}
	for {
		f, _ := cl.Until(t, "joined")
		if f.Str("nickname") == cl.Nick && f.Str("room") == room {
			return f
		}
	}
}

// askHistory sends history with args and returns the reply and its messages.
func askHistory(t *testing.T, cl *wstest.Client, args map[string]any) (wstest.Frame, []wstest.Frame) {
	t.Helper()
	if err := cl.Send("history", args, "h"); err != nil {
		t.Fatal(err)
	}
	f, _ := cl.Until(t, "history")
	var msgs []wstest.Frame
	arr, ok := f["messages"].([]any)
	if !ok {
		t.Fatalf("%s: history reply without messages: %v", cl.Nick, f)
	}
	for _, m := range arr {
		mf, ok := m.(map[string]any)
		if !ok || wstest.Frame(mf).Type() != "message" {
			t.Fatalf("%s: history holds a non-message %v", cl.Nick, m)
		}
		msgs = append(msgs, mf)
	}
	if _, ok := f["complete"].(bool); !ok {
		t.Fatalf("%s: history reply without complete: %v", cl.Nick, f)
	}
	return f, msgs
}

// readMessages reads n `message` frames from cl, skipping membership events.
func readMessages(t *testing.T, cl *wstest.Client, n int) []wstest.Frame {
	t.Helper()
	var out []wstest.Frame
	for len(out) < n {
		f, _ := cl.Until(t, "message")
		out = append(out, f)
	}
	return out
}

// checkLine fails unless msgs are numbered after, after+1, … with no gap
// and hold each sender's bodies in the order sent, none lost or doubled.
func checkLine(t *testing.T, who string, msgs []wstest.Frame, after uint64, sent map[string][]string) {
	t.Helper()
	got := map[string][]string{}
	for i, f := range msgs {
		if s := f.Seq(t); s != after+uint64(i)+1 {
			t.Fatalf("%s: message %d (%v) has seq %d, want %d", who, i, f, s, after+uint64(i)+1)
		}
		got[f.Str("from")] = append(got[f.Str("from")], f.Str("body"))
	}
	for from, bodies := range sent {
		if !slices.Equal(got[from], bodies) {
			t.Fatalf("%s: from %s got %v, want %v", who, from, got[from], bodies)
		}
	}
	if len(got) != len(sent) {
		t.Fatalf("%s: messages from %d senders, want %d: %v", who, len(got), len(sent), got)
	}
}

func bodies(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

func sendAll(t *testing.T, cl *wstest.Client, bs []string) {
	for _, b := range bs {
		if err := cl.Send("message", map[string]any{"body": b}, nil); err != nil {
			t.Errorf("%s: send %q: %v", cl.Nick, b, err)
			return
		}
	}
}

func testHistoryLines(t *testing.T, c *cluster) {
	const room = "lines"
	ann := wstest.Dial(t, c.addr(0), "ann")
	ben := wstest.Dial(t, c.addr(1), "ben")
	keep := wstest.Dial(t, c.addr(1), "keep") // holds the room on n2 while ben is away
	obs := wstest.Dial(t, c.addr(2), "obs")
	join(t, ann, room, true)
	benJoined := ownJoined(t, ben, room)
	join(t, keep, room, false)
	obsJoined := ownJoined(t, obs, room)
	// Once n1 and n2 see obs join, n3's subscription to the room is known
	// to their NATS servers (it went out before the joined event).
	waitJoined(t, ann, room, "ben", "keep", "obs")
	waitJoined(t, ben, room, "keep", "obs")
	waitJoined(t, keep, room, "obs")
	if benJoined.Str("epoch") == obsJoined.Str("epoch") || benJoined.Str("epoch") == "" || obsJoined.Str("epoch") == "" {
		t.Fatalf("epochs on n2 %q and n3 %q: want two different lines", benJoined.Str("epoch"), obsJoined.Str("epoch"))
	}

	t.Run("senders on n1 and n2 reach n3 numbered 1, 2, 3, … in n3's line", func(t *testing.T) {
		const each = 40
		sent := map[string][]string{"ann": bodies("ann", each), "ben": bodies("ben", each)}
		var wg sync.WaitGroup
		wg.Go(func() { sendAll(t, ann, sent["ann"]) })
		wg.Go(func() { sendAll(t, ben, sent["ben"]) })
		wg.Wait()
		got := readMessages(t, obs, 2*each)
		checkLine(t, "obs on n3", got, obsJoined.Seq(t), sent)
		// n2's own line is gapless too, with its own numbers.
		checkLine(t, "keep on n2", readMessages(t, keep, 2*each), benJoined.Seq(t), sent)
		checkLine(t, "ann on n1", readMessages(t, ann, 2*each), 0, sent)
		readMessages(t, ben, 2*each)
		// n3 kept exactly what it delivered.
		reply, msgs := askHistory(t, obs, map[string]any{"since": obsJoined.Seq(t), "epoch": obsJoined.Str("epoch"), "limit": 100})
		if reply["complete"] != true || reply.Str("epoch") != obsJoined.Str("epoch") || len(msgs) != len(got) {
			t.Fatalf("n3 history: %v with %d messages, want complete with %d", reply, len(msgs), len(got))
		}
		for i := range msgs {
			if fmt.Sprint(msgs[i]) != fmt.Sprint(got[i]) {
				t.Fatalf("n3 history message %d is %v, delivered %v", i, msgs[i], got[i])
			}
		}
	})

	// ben's last seen message, in n2's line.
	reply, _ := askHistory(t, ben, map[string]any{"limit": 1})
	lastSeq, epoch := reply.Seq(t), reply.Str("epoch")
	if epoch != benJoined.Str("epoch") {
		t.Fatalf("n2's epoch changed from %q to %q with members in the room", benJoined.Str("epoch"), epoch)
	}

	const missed = 25
	missedBodies := bodies("missed", missed)
	t.Run("back on the same node: exactly the missed messages, complete", func(t *testing.T) {
		_ = ben.Close()
		for {
			f, _ := keep.Until(t, "left")
			if f.Str("nickname") == "ben" {
				break
			}
		}
		sendAll(t, ann, missedBodies)
		readMessages(t, keep, missed) // they are in n2's line now
		back := redial(t, c.addr(1), ben)
		j := ownJoined(t, back, room)
		if j.Str("epoch") != epoch || j.Seq(t) != lastSeq+missed {
			t.Fatalf("back on n2: joined %v, want epoch %q seq %d", j, epoch, lastSeq+missed)
		}
		reply, msgs := askHistory(t, back, map[string]any{"since": lastSeq, "epoch": epoch})
		if reply["complete"] != true {
			t.Fatalf("history on the same node: %v, want complete", reply)
		}
		checkLine(t, "ben back on n2", msgs, lastSeq, map[string][]string{"ann": missedBodies})
		_ = back.Close()
	})

	t.Run("on another node the n2 epoch is not the room's: complete false", func(t *testing.T) {
		moved := redial(t, c.addr(2), ben)
		j := ownJoined(t, moved, room)
		if j.Str("epoch") != obsJoined.Str("epoch") {
			t.Fatalf("on n3: joined %v, want n3's epoch %q", j, obsJoined.Str("epoch"))
		}
		reply, msgs := askHistory(t, moved, map[string]any{"since": lastSeq, "epoch": epoch, "limit": 5})
		if reply["complete"] != false || reply.Str("epoch") != obsJoined.Str("epoch") {
			t.Fatalf("history on n3 with n2's epoch: %v, want complete:false and n3's epoch", reply)
		}
		// What it gets is n3's latest: the last five missed messages.
		checkLine(t, "ben on n3", msgs, j.Seq(t)-5, map[string][]string{"ann": missedBodies[missed-5:]})
		_ = moved.Send("exit", nil, nil)
	})

	t.Run("a room a node stopped watching starts a new line there", func(t *testing.T) {
		// global stays on n2 when its last local member leaves it, but n2
		// no longer hears it: whoever comes back must not be told nothing
		// was missed. keep is (after the earlier steps) n2's only client.
		gus := wstest.Dial(t, c.addr(1), "gus")
		before := gus.Joined
		greeter := wstest.Dial(t, c.addr(0), "greeter")
		join(t, gus, "away", true) // n2's global may now have no local member
		const n = 3
		sendAll(t, greeter, bodies("hello", n))
		readMessages(t, greeter, n)
		back := ownJoined(t, gus, "global")
		reply, msgs := askHistory(t, gus, map[string]any{"since": before.Seq(t), "epoch": before.Str("epoch")})
		if reply["complete"] == true {
			// Allowed only if n2 really has every message sent meanwhile.
			if back.Str("epoch") != before.Str("epoch") {
				t.Fatalf("complete with a stale epoch: %v", reply)
			}
			checkLine(t, "gus back in global", msgs, before.Seq(t), map[string][]string{"greeter": bodies("hello", n)})
		}
		_ = gus.Send("exit", nil, nil)
		_ = greeter.Send("exit", nil, nil)
	})
	for _, cl := range []*wstest.Client{ann, keep, obs} {
		_ = cl.Send("exit", nil, nil)
	}
}

// redial connects again with old's token (the claim is the token's, on any
// node) and waits for its own joined global. A 503 ("retry": the claim was
// still moving, e.g. racing the old socket's release) is retried as a
// client would, for up to 5 s. A 409 is a failure: the same token is never
// refused as taken, however its old socket's release and this claim race.
func redial(t *testing.T, addr string, old *wstest.Client) *wstest.Client {
	t.Helper()
	var cl *wstest.Client
	eventually(t, 5*time.Second, old.Nick+" redials "+addr, func() bool {
		var err error
		cl, err = wstest.DialToken(addr, old.Token)
		var de *wstest.DialError
		if errors.As(err, &de) && de.Status == http.StatusServiceUnavailable {
			t.Logf("%s: redial %s: %v (retrying)", old.Nick, addr, err)
			return false
		}
		if err != nil {
			t.Fatalf("%s: redial %s: %v", old.Nick, addr, err)
		}
		return true
	})
	t.Cleanup(func() { cl.Close() })
	cl.Nick, cl.Token = old.Nick, old.Token
	for {
		f, _ := cl.Until(t, "joined")
		if f.Str("nickname") == cl.Nick {
			cl.Joined = f
			return cl
		}
	}
}
