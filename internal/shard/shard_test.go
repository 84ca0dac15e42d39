package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var loopback = netip.MustParseAddr("127.0.0.1")

// fakeConn is a Conn that records, in order, the frames it is written
// (as "type room nick") and the events it receives (as "Event(args)"). It
// only records: each test drives the protocol itself, as wsio would.
type fakeConn struct {
	name string
	loop *fanout.Loop
	slot fanout.Slot
	got  chan string
}

func newFakeConn(name string, loop *fanout.Loop) *fakeConn {
	return &fakeConn{name: name, loop: loop, got: make(chan string, 256)}
}

func (c *fakeConn) Loop() *fanout.Loop { return c.loop }
func (c *fakeConn) Slot() *fanout.Slot { return &c.slot }
func (c *fakeConn) Write(frames [][]byte) {
	for _, f := range frames {
		var v struct{ Type, Room, From, Nickname string }
		_ = json.Unmarshal(command.Payload(f), &v)
		who := v.Nickname // membership frames; a message names its sender
		if who == "" {
			who = v.From
		}
		c.got <- fmt.Sprintf("%s %s %s", v.Type, v.Room, who)
	}
}
func (c *fakeConn) Overflowed()       { c.got <- "Overflowed()" }
func (c *fakeConn) Claimed(err error) { c.got <- fmt.Sprintf("Claimed(%v)", err) }
func (c *fakeConn) Prepared(room string, id []byte, err error) {
	c.got <- fmt.Sprintf("Prepared(%s %s %v)", room, id, err)
}
func (c *fakeConn) Joined(room string, shard int)  { c.got <- fmt.Sprintf("Joined(%s %d)", room, shard) }
func (c *fakeConn) NickSet(nick string, err error) { c.got <- fmt.Sprintf("NickSet(%s %v)", nick, err) }
func (c *fakeConn) Renamed(nick string)            { c.got <- fmt.Sprintf("Renamed(%s)", nick) }
func (c *fakeConn) Moved(room string)              { c.got <- fmt.Sprintf("Moved(%s)", room) }
func (c *fakeConn) Replaced()                      { c.got <- "Replaced()" }
func (c *fakeConn) Kicked(reason string)           { c.got <- fmt.Sprintf("Kicked(%s)", reason) }
func (c *fakeConn) Missed()                        { c.got <- "Missed()" }

// expect reads c's next records and fails unless they are want, in order.
func (c *fakeConn) expect(t *testing.T, want ...string) {
	t.Helper()
	for i, w := range want {
		select {
		case got := <-c.got:
			if got != w {
				t.Fatalf("%s: record %d is %q, want %q", c.name, i, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no record %d, want %q", c.name, i, w)
		}
	}
}

// quiet fails if c receives anything within a short while.
func (c *fakeConn) quiet(t *testing.T) {
	t.Helper()
	select {
	case got := <-c.got:
		t.Fatalf("%s: unexpected %q", c.name, got)
	case <-time.After(50 * time.Millisecond):
	}
}

// rig is a running Group of n shards over one event loop goroutine.
type rig struct {
	g    *Group
	loop *fanout.Loop
	ctx  context.Context
}

func newRig(t *testing.T, shards int) *rig { return newRigWith(t, shards, Options{}) }

func newRigWith(t *testing.T, shards int, opts Options) *rig {
	loops, _, stopLoops := fakeLoops(1, true)
	g := NewGroup(shards, loops, opts)
	ctx, cancel := context.WithCancel(context.Background())
	g.Start(ctx)
	t.Cleanup(func() {
		cancel()
		g.Wait()
		stopLoops()
	})
	return &rig{g: g, loop: loops[0], ctx: ctx}
}

// roomOn returns a room name owned by a shard other than global's.
func (r *rig) roomOn(t *testing.T, prefix string) string {
	gs := r.g.RoomShard(command.GlobalRoom)
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("%s%d", prefix, i)
		if r.g.RoomShard(name) != gs {
			return name
		}
	}
	t.Fatal("no room name off global's shard")
	return ""
}

// connect claims nick for a new fakeConn and joins it to global, as wsio
// does on an upgrade.
func (r *rig) connect(t *testing.T, nick, jti string) *fakeConn {
	t.Helper()
	c := newFakeConn(nick, r.loop)
	r.g.Shard(r.g.NickShard(nick)).Claim(c, nick, jti, time.Now().Add(time.Hour))
	c.expect(t, "Claimed(<nil>)")
	gs := r.g.RoomShard(command.GlobalRoom)
	r.g.Shard(gs).Join(c, command.GlobalRoom, Member{Nick: nick})
	c.expect(t, "joined global "+nick, fmt.Sprintf("Joined(global %d)", gs))
	return c
}

// switchTo moves c (in room from) to room to, driving the two-shard
// hand-off as wsio does: Prepare on the target, then Leave on the source.
func (r *rig) switchTo(t *testing.T, c *fakeConn, from, to string, create bool) {
	t.Helper()
	ts := r.g.RoomShard(to)
	if !r.g.Shard(ts).Prepare(c, to, create, []byte("s1")) {
		t.Fatal("Prepare refused: inbox full")
	}
	c.expect(t, fmt.Sprintf("Prepared(%s s1 <nil>)", to))
	r.g.Shard(r.g.RoomShard(from)).Leave(c, to, ts, Member{Nick: c.name})
	c.expect(t, "left "+from+" "+c.name, "joined "+to+" "+c.name, fmt.Sprintf("Joined(%s %d)", to, ts))
}

// Claims: who may bind a nickname at /ws, and what a refusal says.
func TestClaim(t *testing.T) {
	r := newRig(t, 4)
	exp := time.Now().Add(time.Hour)
	r.connect(t, "alice", "jti-a")
	if err := r.g.Reserve(r.ctx, "bob", "jti-b", exp, loopback); err != nil {
		t.Fatal(err)
	}
	r.g.Shard(r.g.NickShard("carol")).Revoke("jti-revoked", exp)
	tests := []struct {
		name, nick, jti string
		want            string
	}{
		{"held by another token", "alice", "jti-x", "Claimed(nickname in use)"},
		{"held, in another case", "ALICE", "jti-x", "Claimed(nickname in use)"},
		{"reserved by /auth for another token", "bob", "jti-x", "Claimed(nickname in use)"},
		{"reserved by /auth for this token", "bob", "jti-b", "Claimed(<nil>)"},
		{"revoked token", "carol", "jti-revoked", "Claimed(token revoked)"},
		{"free", "dave", "jti-d", "Claimed(<nil>)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeConn(tt.name, r.loop)
			r.g.Shard(r.g.NickShard(tt.nick)).Claim(c, tt.nick, tt.jti, exp)
			c.expect(t, tt.want)
		})
	}
}

// Takeover: the same token connecting again while its old connection is
// still open binds the nickname to the newcomer and tells the old one
// Replaced; the old connection's late Release then frees nothing.
func TestClaimTakeover(t *testing.T) {
	r := newRig(t, 2)
	old := r.connect(t, "alice", "jti-a")
	next := newFakeConn("alice again", r.loop)
	ns := r.g.Shard(r.g.NickShard("alice"))
	ns.Claim(next, "alice", "jti-a", time.Now().Add(time.Hour))
	old.expect(t, "Replaced()")
	next.expect(t, "Claimed(<nil>)")
	ns.Release("alice", old) // the old connection closing
	other := newFakeConn("other", r.loop)
	ns.Claim(other, "alice", "jti-other", time.Now().Add(time.Hour))
	other.expect(t, "Claimed(nickname in use)")
}

// A room switch between two shards: Prepare pins the target on its shard,
// Leave on the source shard removes the member (everyone there, the mover
// included, hears left) and hands it to the target, which adds it (its own
// joined frame, then Joined): left before joined, in order with events.
func TestSwitchHandsOffBetweenShards(t *testing.T) {
	r := newRig(t, 4)
	room := r.roomOn(t, "lobby")
	alice := r.connect(t, "alice", "jti-a")
	bob := r.connect(t, "bob", "jti-b")
	alice.expect(t, "joined global bob")
	r.switchTo(t, alice, command.GlobalRoom, room, true)
	bob.expect(t, "left global alice")
	// In the new room, alice hears who comes next; global no longer
	// reaches her.
	r.switchTo(t, bob, command.GlobalRoom, room, false)
	alice.expect(t, "joined "+room+" bob")
	r.g.Shard(r.g.RoomShard(command.GlobalRoom)).Publish(bob, command.OpenMessage(nil, "bob", command.GlobalRoom, []byte("stale"), 1))
	alice.quiet(t)
	bob.quiet(t)
}

// Pins: a room Prepare created stays (empty, but joinable) until the switch arrives or Unpin drops the pin; then an empty
// room goes.
func TestPinKeepsRoomUntilSwitchOrUnpin(t *testing.T) {
	r := newRig(t, 4)
	room := r.roomOn(t, "pinned")
	alice := r.connect(t, "alice", "jti-a")
	bob := r.connect(t, "bob", "jti-b")
	alice.expect(t, "joined global bob")
	ts := r.g.Shard(r.g.RoomShard(room))
	tests := []struct {
		step   string
		do     func()
		c      *fakeConn
		expect string
	}{
		{"alice creates and pins", func() { ts.Prepare(alice, room, true, nil) }, alice, "Prepared(" + room + "  <nil>)"},
		{"create again: it exists while pinned", func() { ts.Prepare(bob, room, true, nil) }, bob, "Prepared(" + room + "  room already exists)"},
		{"bob pins it too", func() { ts.Prepare(bob, room, false, nil) }, bob, "Prepared(" + room + "  <nil>)"},
		{"alice gives up (Unpin): bob's pin keeps it", func() { ts.Unpin(room); ts.Prepare(alice, room, false, nil) }, alice, "Prepared(" + room + "  <nil>)"},
		{"both pins dropped: the empty room is gone", func() { ts.Unpin(room); ts.Unpin(room); ts.Prepare(alice, room, false, nil) }, alice, "Prepared(" + room + "  room not found)"},
	}
	for _, tt := range tests {
		tt.do()
		tt.c.expect(t, tt.expect)
	}
}

// An admin deleting a room tells each member Moved(global) and refuses new
// switches into it; the room goes once the last member has left. A member
// that arrives through an earlier pin is told Moved right after Joined.
func TestDeleteRoomMovesMembers(t *testing.T) {
	r := newRig(t, 4)
	room := r.roomOn(t, "doomed")
	alice := r.connect(t, "alice", "jti-a")
	bob := r.connect(t, "bob", "jti-b")
	carol := r.connect(t, "carol", "jti-c")
	alice.expect(t, "joined global bob", "joined global carol")
	bob.expect(t, "joined global carol")
	r.switchTo(t, alice, command.GlobalRoom, room, true)
	bob.expect(t, "left global alice")
	r.switchTo(t, bob, command.GlobalRoom, room, false)
	alice.expect(t, "joined "+room+" bob")
	carol.expect(t, "left global alice", "left global bob")
	ts := r.g.Shard(r.g.RoomShard(room))
	ts.Prepare(carol, room, false, nil) // carol's switch is under way
	carol.expect(t, "Prepared("+room+"  <nil>)")

	n, err := r.g.DeleteRoom(r.ctx, room)
	if err != nil || n != 2 {
		t.Fatalf("DeleteRoom: %d moving, %v; want 2", n, err)
	}
	alice.expect(t, "Moved(global)")
	bob.expect(t, "Moved(global)")
	dave := newFakeConn("dave", r.loop)
	ts.Prepare(dave, room, false, nil)
	dave.expect(t, "Prepared("+room+"  room not found)")
	// carol's pinned switch still lands, and is moved on at once.
	r.g.Shard(r.g.RoomShard(command.GlobalRoom)).Leave(carol, room, r.g.RoomShard(room), Member{Nick: "carol"})
	carol.expect(t, "left global carol", "joined "+room+" carol", fmt.Sprintf("Joined(%s %d)", room, r.g.RoomShard(room)), "Moved(global)")
	for _, c := range []*fakeConn{alice, bob, carol} {
		ts.Leave(c, command.GlobalRoom, r.g.RoomShard(command.GlobalRoom), Member{Nick: c.name})
	}
	if _, err := r.g.Room(r.ctx, room); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("Room(%s) after every member left: %v, want ErrRoomNotFound", room, err)
	}
	if _, err := r.g.DeleteRoom(r.ctx, command.GlobalRoom); !errors.Is(err, ErrGlobalRoom) {
		t.Fatalf("DeleteRoom(global): %v, want ErrGlobalRoom", err)
	}
}

// setnick: a free name is bound (NickSet nil), a held one refused, and a
// Release by a connection that does not hold a name frees nothing. Rename
// tells the room, then the renamer Renamed, after its own nick frame.
func TestSetNick(t *testing.T) {
	r := newRig(t, 4)
	alice := r.connect(t, "alice", "jti-a")
	bob := r.connect(t, "bob", "jti-b")
	exp := time.Now().Add(time.Hour)
	set := func(c *fakeConn, nick string) {
		r.g.Shard(r.g.NickShard(nick)).SetNick(c, nick, "jti-"+nick, exp)
	}
	set(alice, "Bob")
	alice.expect(t, "joined global bob", "NickSet(Bob nickname in use)")
	set(alice, "alicia")
	alice.expect(t, "NickSet(alicia <nil>)")
	r.g.Shard(r.g.RoomShard(command.GlobalRoom)).Rename(alice, "alice", "alicia", "tok", []byte(`"n1"`))
	alice.expect(t, "nick global alicia", "Renamed(alicia)")
	bob.expect(t, "nick global alicia")
	r.g.Shard(r.g.NickShard("alicia")).Release("alicia", bob)
	set(bob, "alicia")
	bob.expect(t, "NickSet(alicia nickname in use)")
}

// Kick tells the holder Kicked(reason), frees the nickname at once and
// revokes the token it held it with.
func TestKick(t *testing.T) {
	r := newRig(t, 2)
	alice := r.connect(t, "alice", "jti-a")
	if err := r.g.Kick(r.ctx, "alice", "spam"); err != nil {
		t.Fatal(err)
	}
	alice.expect(t, "Kicked(spam)")
	ns := r.g.Shard(r.g.NickShard("alice"))
	exp := time.Now().Add(time.Hour)
	for _, tt := range []struct{ jti, want string }{
		{"jti-a", "Claimed(token revoked)"},
		{"jti-new", "Claimed(<nil>)"},
	} {
		c := newFakeConn(tt.jti, r.loop)
		ns.Claim(c, "alice", tt.jti, exp)
		c.expect(t, tt.want)
	}
	if err := r.g.Kick(r.ctx, "nobody", "x"); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("Kick(nobody): %v, want ErrUserNotFound", err)
	}
}
