package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
)

// These tests are PROTOCOL.md "History and recovery" (v1.1), on the wire.

// sendN sends n messages body prefix-0 .. prefix-(n-1) from c.
func sendN(t testing.TB, c *wstest.Client, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := c.Send("message", map[string]any{"body": fmt.Sprintf("%s-%d", prefix, i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// readMessages reads frames until n `message` frames came, skipping others.
func readMessages(t testing.TB, c *wstest.Client, n int) []wstest.Frame {
	t.Helper()
	var out []wstest.Frame
	for len(out) < n {
		f, _ := c.Until(t, "message")
		out = append(out, f)
	}
	return out
}

// history asks for history and returns the reply (frames before it are skipped).
func history(t testing.TB, c *wstest.Client, args map[string]any) (reply wstest.Frame, msgs []wstest.Frame) {
	t.Helper()
	if err := c.Send("history", args, "h"); err != nil {
		t.Fatal(err)
	}
	f, _ := c.Until(t, "history")
	if f.Str("id") != "h" || f.Str("from") != "system" {
		t.Fatalf("history reply without its id or from: %v", f)
	}
	arr, ok := f["messages"].([]any)
	if !ok {
		t.Fatalf("history reply without a messages array: %v", f)
	}
	for _, m := range arr {
		mf, ok := m.(map[string]any)
		if !ok || wstest.Frame(mf).Type() != "message" {
			t.Fatalf("history holds a non-message %v", m)
		}
		msgs = append(msgs, wstest.Frame(mf))
	}
	return f, msgs
}

func complete(t testing.TB, f wstest.Frame) bool {
	t.Helper()
	c, ok := f["complete"].(bool)
	if !ok {
		t.Fatalf("history reply without complete: %v", f)
	}
	return c
}

// seqs lists the frames' seqs.
func seqs(t testing.TB, fs []wstest.Frame) []uint64 {
	out := make([]uint64, len(fs))
	for i, f := range fs {
		out[i] = f.Seq(t)
	}
	return out
}

// span is the seqs from..to.
func span(from, to uint64) []uint64 {
	var out []uint64
	for q := from; q <= to; q++ {
		out = append(out, q)
	}
	return out
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHistorySeqStrictlyIncreasesAcrossSenders(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	obs := wstest.Dial(t, addr, "observer")
	if obs.Joined.Seq(t) != 0 || obs.Joined.Str("epoch") == "" {
		t.Fatalf("own joined of a fresh room: %v, want seq 0 and an epoch", obs.Joined)
	}
	senders := []*wstest.Client{wstest.Dial(t, addr, "ann"), wstest.Dial(t, addr, "ben"), wstest.Dial(t, addr, "cat")}
	const each = 15
	var wg sync.WaitGroup
	for _, c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := c.Send("message", map[string]any{"body": fmt.Sprintf("%s-%d", c.Nick, i)}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := readMessages(t, obs, 3*each)
	if s := seqs(t, got); !equalSeqs(s, span(1, 3*each)) {
		t.Fatalf("seqs %v, want 1..%d in order", s, 3*each)
	}
	next := map[string]int{}
	for _, f := range got {
		if want := fmt.Sprintf("%s-%d", f.Str("from"), next[f.Str("from")]); f.Str("body") != want {
			t.Fatalf("got %q, want %q (per-sender order)", f.Str("body"), want)
		}
		next[f.Str("from")]++
	}
	// A later arrival learns where the room stands and can read the same
	// frames back: same seq, sender, body and ts.
	late := wstest.Dial(t, addr, "late")
	if late.Joined.Seq(t) != 3*each || late.Joined.Str("epoch") != obs.Joined.Str("epoch") {
		t.Fatalf("late joined %v, want seq %d and epoch %q", late.Joined, 3*each, obs.Joined.Str("epoch"))
	}
	reply, msgs := history(t, late, nil)
	if !complete(t, reply) || reply.Str("room") != "global" || reply.Str("epoch") != obs.Joined.Str("epoch") || reply.Seq(t) != 3*each {
		t.Fatalf("history reply %v", reply)
	}
	if len(msgs) != 3*each {
		t.Fatalf("history holds %d messages, want %d", len(msgs), 3*each)
	}
	for i, m := range msgs {
		if fmt.Sprint(m) != fmt.Sprint(got[i]) {
			t.Fatalf("history message %d is %v, the broadcast was %v", i, m, got[i])
		}
	}
}

func TestHistorySinceLimitEpoch(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.CommandBurst = 100 })
	addr := srv.Addr().String()
	alice := wstest.Dial(t, addr, "alice")
	epoch := alice.Joined.Str("epoch")
	sendN(t, alice, "m", 30)
	readMessages(t, alice, 30)
	tests := []struct {
		name     string
		args     map[string]any
		want     []uint64
		complete bool
	}{
		{"no since: the latest 50 (all)", nil, span(1, 30), true},
		{"no since, limit 5: the latest 5", map[string]any{"limit": 5}, span(26, 30), true},
		{"since 0", map[string]any{"since": 0}, span(1, 30), true},
		{"since 10", map[string]any{"since": 10}, span(11, 30), true},
		{"since 10, limit 5: the first 5 after it", map[string]any{"since": 10, "limit": 5}, span(11, 15), true},
		{"since the last: nothing missed", map[string]any{"since": 30}, nil, true},
		{"since 10, right epoch", map[string]any{"since": 10, "epoch": epoch}, span(11, 30), true},
		{"since 10, wrong epoch: the latest, incomplete", map[string]any{"since": 10, "epoch": "elsewhere"}, span(1, 30), false},
		{"wrong epoch without since", map[string]any{"epoch": "elsewhere", "limit": 3}, span(28, 30), false},
		{"since beyond the room's seq", map[string]any{"since": 99, "limit": 2}, span(29, 30), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, msgs := history(t, alice, tt.args)
			if got := seqs(t, msgs); !equalSeqs(got, tt.want) || complete(t, reply) != tt.complete {
				t.Fatalf("seqs %v complete %v, want %v complete %v", got, complete(t, reply), tt.want, tt.complete)
			}
			if reply.Seq(t) != 30 || reply.Str("epoch") != epoch {
				t.Fatalf("reply %v, want seq 30 and epoch %q", reply, epoch)
			}
			for i, m := range msgs {
				if want := fmt.Sprintf("m-%d", tt.want[i]-1); m.Str("body") != want || m.Str("from") != "alice" {
					t.Fatalf("message %d: %v, want body %q", i, m, want)
				}
			}
		})
	}
	for _, bad := range []map[string]any{{"limit": 0}, {"limit": 101}, {"limit": "5"}, {"since": -1}, {"since": 1.5}, {"epoch": 3}} {
		if err := alice.Send("history", bad, "b"); err != nil {
			t.Fatal(err)
		}
		if f := alice.Expect(t, "error"); f.Str("code") != "bad_args" || f.Str("id") != "b" {
			t.Fatalf("history %v: %v, want bad_args with id", bad, f)
		}
	}
}

// Every bound of the buffer drops the oldest messages; a client asking
// from before them hears complete:false, one asking from after them
// complete:true.
func TestHistoryEviction(t *testing.T) {
	tests := []struct {
		name   string
		tweak  func(*config.Config)
		reason string // eviction counter that must have moved
		pause  bool   // wait out the TTL after the first 3 messages
	}{
		{"size", func(c *config.Config) { c.HistorySize = 10 }, "size", false},
		{"age", func(c *config.Config) { c.HistoryTTL = time.Second }, "age", true},
		// One shard holds the whole budget: about six 100-byte frames.
		{"total bytes", func(c *config.Config) { c.Shards = 1; c.HistoryMaxBytes = 1000 }, "bytes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t, tt.tweak)
			addr := srv.Addr().String()
			c := wstest.Dial(t, addr, "alice")
			sendN(t, c, "m", 3)
			readMessages(t, c, 3)
			if tt.pause {
				time.Sleep(1100 * time.Millisecond)
			}
			sendN(t, c, "m", 12)
			readMessages(t, c, 12)
			reply, msgs := history(t, c, map[string]any{"since": 0})
			got := seqs(t, msgs)
			if complete(t, reply) || len(got) == 0 || len(got) >= 15 || !equalSeqs(got, span(got[0], 15)) {
				t.Fatalf("since 0: seqs %v complete %v, want a suffix of 1..15 without 1, complete false", got, complete(t, reply))
			}
			// From just before the oldest kept message nothing is missing.
			reply, msgs = history(t, c, map[string]any{"since": got[0] - 1})
			if again := seqs(t, msgs); !complete(t, reply) || !equalSeqs(again, got) {
				t.Fatalf("since %d: seqs %v complete %v, want %v complete", got[0]-1, again, complete(t, reply), got)
			}
			if n := metricLabeled(t, addr, "ics_history_evictions_total", `reason="`+tt.reason+`"`); n < 1 {
				t.Fatalf("ics_history_evictions_total{reason=%q} = %v, want > 0", tt.reason, n)
			}
			if n := metricLabeled(t, addr, "ics_history_bytes", "shard="); n <= 0 {
				t.Fatalf("ics_history_bytes = %v, want > 0", n)
			}
		})
	}
}

func TestHistoryOffStillCountsSeq(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.HistorySize = 0 })
	c := wstest.Dial(t, srv.Addr().String(), "alice")
	sendN(t, c, "m", 3)
	if got := seqs(t, readMessages(t, c, 3)); !equalSeqs(got, span(1, 3)) {
		t.Fatalf("seqs %v, want 1..3", got)
	}
	for _, args := range []map[string]any{nil, {"since": 3}, {"since": 0}} {
		reply, msgs := history(t, c, args)
		if complete(t, reply) || len(msgs) != 0 || reply.Seq(t) != 3 {
			t.Fatalf("history %v with history off: %v", args, reply)
		}
	}
}

// A reply is bounded in bytes (half the outbound backlog limit), so asking
// for history never makes a client a slow consumer; the client pages on
// with the last seq it got until it reaches the reply's seq.
func TestHistoryReplyBoundedAndPaged(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.MaxBacklogBytes = 64 << 10; c.CommandBurst = 100 })
	c := wstest.Dial(t, srv.Addr().String(), "alice")
	big := strings.Repeat("x", 4000)
	for i := 0; i < 40; i++ {
		if err := c.Send("message", map[string]any{"body": big + strconv.Itoa(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	readMessages(t, c, 40)
	var all []uint64
	pages := 0
	for since := uint64(0); since < 40; pages++ {
		reply, msgs := history(t, c, map[string]any{"since": since})
		if !complete(t, reply) || len(msgs) == 0 || len(msgs) > 8 {
			t.Fatalf("page from %d: %d messages, complete %v; want 1..8 (32 KiB of 4 KiB messages), complete", since, len(msgs), complete(t, reply))
		}
		all = append(all, seqs(t, msgs)...)
		since = all[len(all)-1]
	}
	if !equalSeqs(all, span(1, 40)) || pages < 5 {
		t.Fatalf("paged %v in %d pages, want 1..40 in at least 5", all, pages)
	}
}

func TestHistoryEpochChangesWhenRoomIsRecreated(t *testing.T) {
	srv := start(t, nil)
	c := wstest.Dial(t, srv.Addr().String(), "alice")
	enter := func(cmd string, room string) wstest.Frame {
		t.Helper()
		if err := c.Send(cmd, map[string]any{map[string]string{"createroom": "name", "switchroom": "room"}[cmd]: room}, nil); err != nil {
			t.Fatal(err)
		}
		for {
			f, _ := c.Until(t, "joined")
			if f.Str("nickname") == "alice" && f.Str("room") == room {
				return f
			}
		}
	}
	first := enter("createroom", "lounge")
	sendN(t, c, "m", 2)
	readMessages(t, c, 2)
	enter("switchroom", "global") // lounge is empty: deleted
	second := enter("createroom", "lounge")
	if second.Str("epoch") == "" || second.Str("epoch") == first.Str("epoch") || second.Seq(t) != 0 {
		t.Fatalf("recreated room: joined %v after %v, want a new epoch and seq 0", second, first)
	}
	reply, msgs := history(t, c, map[string]any{"since": 1, "epoch": first.Str("epoch")})
	if complete(t, reply) || len(msgs) != 0 || reply.Str("epoch") != second.Str("epoch") {
		t.Fatalf("history with the old epoch: %v", reply)
	}
}

// The recovery the protocol promises: a client that was away while 50
// messages were sent reconnects with its token, asks history from the last
// seq it saw, and gets exactly those 50, in order.
func TestHistoryRecoversMissedMessagesAfterReconnect(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.CommandBurst = 100 })
	addr := srv.Addr().String()
	alice := wstest.Dial(t, addr, "alice")
	bob := wstest.Dial(t, addr, "bob")
	alice.Expect(t, "joined")
	epoch := bob.Joined.Str("epoch")
	sendN(t, alice, "before", 5)
	seen := readMessages(t, bob, 5)
	last := seen[len(seen)-1].Seq(t)
	bob.Close()
	alice.Until(t, "left")
	sendN(t, alice, "missed", 50)
	readMessages(t, alice, 50)

	var back *wstest.Client
	waitFor(t, "bob's reconnect", func() bool {
		var err error
		back, err = wstest.DialToken(addr, bob.Token)
		var de *wstest.DialError
		if errors.As(err, &de) && de.Status == http.StatusConflict {
			return false // the server has not noticed the old socket yet
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	})
	back.Nick = "bob"
	t.Cleanup(func() { back.Close() })
	joined := back.Expect(t, "joined")
	if joined.Seq(t) != last+50 || joined.Str("epoch") != epoch {
		t.Fatalf("rejoined %v, want seq %d epoch %q", joined, last+50, epoch)
	}
	reply, msgs := history(t, back, map[string]any{"since": last, "epoch": epoch})
	if !complete(t, reply) || !equalSeqs(seqs(t, msgs), span(last+1, last+50)) {
		t.Fatalf("recovered seqs %v complete %v, want %d..%d complete", seqs(t, msgs), complete(t, reply), last+1, last+50)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("missed-%d", i); m.Str("body") != want || m.Str("from") != "alice" {
			t.Fatalf("recovered message %d is %v, want %q from alice", i, m, want)
		}
	}
}
