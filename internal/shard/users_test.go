package shard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
)

// recPeer keeps the frames it is handed.
type recPeer struct {
	countPeer
	got [][]byte
}

func (p *recPeer) Write(frames [][]byte) {
	for _, f := range frames {
		p.got = append(p.got, bytes.Clone(f))
	}
}

// A listusers reply never carries more than UsersMaxLimit names, however
// big the room: the rest is reached with `after`, and total counts all.
func TestListUsersIsCappedAndPaged(t *testing.T) {
	const members = command.UsersMaxLimit + 5
	var ex []func()
	loop := fanout.NewLoop(0, func(fn func()) error { ex = append(ex, fn); return nil })
	g := NewGroup(1, []*fanout.Loop{loop}, Options{PresenceMax: 1})
	s := g.Shard(0)
	asker := &recPeer{countPeer: countPeer{loop: loop}}
	s.join(asker, command.GlobalRoom, Member{Nick: "a_asker"}, false)
	for i := 1; i < members; i++ {
		s.join(&countPeer{loop: loop}, command.GlobalRoom, Member{Nick: fmt.Sprintf("user%05d", i)}, false)
	}
	type reply struct {
		Users []string `json:"users"`
		Total int      `json:"total"`
		More  bool     `json:"more"`
	}
	ask := func(after string) reply {
		asker.got = nil
		s.listUsers(asker, after, command.UsersMaxLimit, nil)
		s.flush()
		for len(ex) > 0 {
			fn := ex[0]
			ex = ex[1:]
			fn()
		}
		var last []byte
		for _, f := range asker.got {
			if bytes.Contains(f, []byte(`"type":"users"`)) {
				last = f
			}
		}
		var r reply
		if last == nil {
			t.Fatal(errors.New("no users frame"))
		}
		if err := json.Unmarshal(last[bytes.IndexByte(last, '{'):], &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := ask("")
	if len(first.Users) != command.UsersMaxLimit || !first.More || first.Total != members || first.Users[0] != "a_asker" {
		t.Fatalf("first page: %d names (first %q), more %v, total %d", len(first.Users), first.Users[0], first.More, first.Total)
	}
	rest := ask(first.Users[len(first.Users)-1])
	if len(rest.Users) != members-command.UsersMaxLimit || rest.More || rest.Users[len(rest.Users)-1] != fmt.Sprintf("user%05d", members-1) {
		t.Fatalf("second page: %v, more %v", rest.Users, rest.More)
	}
}

// BenchmarkListUsers is the shard's cost of one listusers in a room of 8,000
// (the loops drop what they are handed): "repeat" asks again and again with
// nothing changed (the encoded page is reused), "after-join" has a member
// join and leave before each ask (a connect storm: the sorted list is
// updated in place and one page re-encoded, the room never re-sorted).
func BenchmarkListUsers(b *testing.B) {
	const members = 8000
	for _, mode := range []string{"repeat", "after-join"} {
		b.Run(mode, func(b *testing.B) {
			gone := errors.New("loop stopped")
			loop := fanout.NewLoop(0, func(func()) error { return gone })
			g := NewGroup(1, []*fanout.Loop{loop}, Options{PresenceMax: 1})
			s := g.Shard(0)
			var peers []Conn
			for i := 0; i < members; i++ {
				p := &countPeer{loop: loop}
				peers = append(peers, p)
				s.join(p, command.GlobalRoom, Member{Nick: fmt.Sprintf("user%05d", i*7919%members)}, false)
			}
			s.flush()
			newcomer := &countPeer{loop: loop}
			b.ReportAllocs()
			for b.Loop() {
				if mode == "after-join" {
					s.join(newcomer, command.GlobalRoom, Member{Nick: "user04000x"}, false)
					s.remove(s.members[newcomer])
				}
				s.listUsers(peers[0], "", command.UsersMaxLimit, nil)
				s.flush()
			}
		})
	}
}
