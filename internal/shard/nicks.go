package shard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
)

// nickEntry is who holds a nickname: a token that was issued for it (peer
// nil: reserved, not connected) or a live connection.
type nickEntry struct {
	jti  string
	exp  time.Time
	peer fanout.Peer
}

// ErrNicknameTaken is returned by Reserve when someone holds the nickname.
var ErrNicknameTaken = errors.New("nickname in use")

// Reserve holds nick for a newly issued token until the token is used or
// expires. It is called by the /auth handler and waits for the owner shard.
func (g *Group) Reserve(ctx context.Context, nick, jti string, exp time.Time) error {
	s := g.shards[g.NickShard(nick)]
	reply := make(chan error, 1)
	s.in.put(op{kind: opReserve, x: &args{nick: nick, jti: jti, exp: exp, reply: reply}})
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("reserve nickname %q: %w", nick, ctx.Err())
	}
}

// free reports whether e no longer holds its nickname at now.
func (e *nickEntry) free(now time.Time) bool {
	return e == nil || (e.peer == nil && !now.Before(e.exp))
}

func (s *Shard) reserve(nick, jti string, exp time.Time) error {
	if e := s.nicks[nick]; !e.free(s.g.opts.Now()) {
		return ErrNicknameTaken
	} else if e == nil {
		s.stats.Nicknames.Add(1)
	}
	s.nicks[nick] = &nickEntry{jti: jti, exp: exp}
	return nil
}

func (s *Shard) claim(p fanout.Peer, a *args) {
	now := s.g.opts.Now()
	if _, bad := s.revoked[a.jti]; bad {
		s.batch.Control(p, ClaimResult{Status: 401, Reason: "token revoked"})
		return
	}
	e := s.nicks[a.nick]
	switch {
	case e.free(now):
		if e == nil {
			s.stats.Nicknames.Add(1)
		}
		s.nicks[a.nick] = &nickEntry{jti: a.jti, exp: a.exp, peer: p}
	case e.jti == a.jti:
		if e.peer != nil && e.peer != p {
			// Same token, old socket still open (half-open, not yet
			// noticed): the newcomer takes over.
			s.batch.Control(e.peer, CloseOrder{Code: 4409, Reason: "session replaced"})
		}
		e.peer = p
	default:
		s.batch.Control(p, ClaimResult{Status: 409, Reason: "nickname " + a.nick + " is in use"})
		return
	}
	s.batch.Control(p, ClaimResult{OK: true})
}

func (s *Shard) setNick(p fanout.Peer, a *args) {
	e := s.nicks[a.nick]
	if !e.free(s.g.opts.Now()) {
		s.stats.Errors.Add(1)
		s.batch.Control(p, NickResult{Nick: a.nick, Code: command.ErrNicknameTaken, Msg: "nickname " + a.nick + " is in use"})
		return
	}
	if e == nil {
		s.stats.Nicknames.Add(1)
	}
	s.nicks[a.nick] = &nickEntry{jti: a.jti, exp: a.exp, peer: p}
	s.batch.Control(p, NickResult{OK: true, Nick: a.nick})
}

func (s *Shard) release(nick string, p fanout.Peer) {
	if e := s.nicks[nick]; e != nil && e.peer == p {
		delete(s.nicks, nick)
		s.stats.Nicknames.Add(-1)
	}
}

// sweep frees reservations whose token expired unused and forgets revoked
// tokens that can no longer verify anyway.
func (s *Shard) sweep(now time.Time) {
	for nick, e := range s.nicks {
		if e.peer == nil && !now.Before(e.exp) {
			delete(s.nicks, nick)
			s.stats.Nicknames.Add(-1)
		}
	}
	for jti, exp := range s.revoked {
		if !now.Before(exp) {
			delete(s.revoked, jti)
		}
	}
}
