package shard

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ics-chat/ics/internal/addrcount"
)

// Nickname ownership. Each nickname belongs to the shard its case-folded
// form hashes to (NickShard); s.nicks is keyed by that folded form, so
// `Alice` is taken while `alice` is held, and each entry keeps the case it
// was claimed with. The entry points, each a single op on the owner shard,
// are Reserve (/auth), Claim (/ws upgrade), SetNick (rename), Release and
// Revoke; a cluster-wide claim can sit in front of any of them.

// nickEntry is who holds a nickname: a claim from /auth whose token has not
// been used yet (peer nil: held until `until`) or a live connection.
type nickEntry struct {
	jti   string
	exp   time.Time // the token's expiry (how long a revocation must last)
	until time.Time // an unused claim is released at until
	addr  netip.Addr
	peer  Conn
}

// Errors returned by Reserve (and, ErrNicknameTaken, to Claimed and NickSet).
var (
	// ErrNicknameTaken: someone holds the nickname (any case).
	ErrNicknameTaken = errors.New("nickname in use")
	// ErrTooManyClaims: the client address, or the server, holds too many
	// claims that were not used at /ws yet.
	ErrTooManyClaims = errors.New("too many unused nickname claims")
)

// NickKey is the form nicknames are compared in: ASCII case folded (names
// are ASCII by the name rule).
func NickKey(nick string) string { return strings.ToLower(nick) }

// Reserve holds nick for a newly issued token until the token is used at
// /ws or ClaimTTL passes (the token then still reclaims the name if it is
// free). addr is the client address the claim is counted against
// (addrcount.Key). It is called by the /auth handler and waits for the owner
// shard.
func (g *Group) Reserve(ctx context.Context, nick, jti string, exp time.Time, addr netip.Addr) error {
	s := g.shards[g.NickShard(nick)]
	reply := make(chan error, 1)
	if !s.in.tryPut(op{kind: opReserve, x: &args{nick: nick, jti: jti, exp: exp, addr: addr, reply: reply}}, g.opts.InboxLimit) {
		s.stats.Busy.Add(1)
		return fmt.Errorf("reserve nickname %q: shard %d inbox full", nick, s.idx)
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("reserve nickname %q: %w", nick, ctx.Err())
	}
}

// free reports whether e no longer holds its nickname at now.
func (e *nickEntry) free(now time.Time) bool {
	return e == nil || (e.peer == nil && !now.Before(e.until))
}

func (s *Shard) reserve(a *args) error {
	key := NickKey(a.nick)
	now := time.Now()
	e := s.nicks[key]
	if !e.free(now) {
		return ErrNicknameTaken
	}
	if s.g.claims.Take(a.addr) != addrcount.OK {
		return ErrTooManyClaims
	}
	s.forget(key, e)
	until := now.Add(s.g.opts.ClaimTTL)
	if a.exp.Before(until) {
		until = a.exp
	}
	s.put(key, &nickEntry{jti: a.jti, exp: a.exp, until: until, addr: a.addr})
	heap.Push(&s.claimExp, expiry{at: until, key: key, jti: a.jti})
	return nil
}

// put stores e under key (which must be free).
func (s *Shard) put(key string, e *nickEntry) {
	s.nicks[key] = e
	s.stats.Nicknames.Add(1)
}

// forget removes e (if any) from key, giving back its claim count when it
// was an unused claim.
func (s *Shard) forget(key string, e *nickEntry) {
	if e == nil {
		return
	}
	if e.peer == nil {
		s.g.claims.Give(e.addr)
	}
	delete(s.nicks, key)
	s.stats.Nicknames.Add(-1)
}

func (s *Shard) claim(p Conn, a *args) {
	now := time.Now()
	if _, bad := s.revoked[a.jti]; bad {
		s.batch.Event(p, claimed{p, ErrTokenRevoked})
		return
	}
	key := NickKey(a.nick)
	e := s.nicks[key]
	switch {
	case e.free(now):
		s.forget(key, e)
		s.put(key, &nickEntry{jti: a.jti, exp: a.exp, peer: p})
	case e.jti == a.jti:
		if e.peer == nil {
			s.g.claims.Give(e.addr) // the claim is used
		} else if e.peer != p {
			// Same token, old socket still open (half-open, not yet
			// noticed): the newcomer takes over.
			s.batch.Event(e.peer, replaced{e.peer})
		}
		e.peer = p
	default:
		s.batch.Event(p, claimed{p, ErrNicknameTaken})
		return
	}
	s.batch.Event(p, claimed{p, nil})
}

func (s *Shard) setNick(p Conn, a *args) {
	key := NickKey(a.nick)
	e := s.nicks[key]
	if !e.free(time.Now()) {
		s.stats.Errors.Add(1)
		s.batch.Event(p, nickSet{p, a.nick, ErrNicknameTaken})
		return
	}
	s.forget(key, e)
	s.put(key, &nickEntry{jti: a.jti, exp: a.exp, peer: p})
	s.batch.Event(p, nickSet{p, a.nick, nil})
}

func (s *Shard) release(nick string, p Conn) {
	key := NickKey(nick)
	if e := s.nicks[key]; e != nil && e.peer == p {
		s.forget(key, e)
	}
}

func (s *Shard) revoke(jti string, exp time.Time) {
	s.revoked[jti] = exp
	heap.Push(&s.revokedExp, expiry{at: exp, jti: jti})
}

// sweep releases unused claims whose window ended and forgets revoked
// tokens that can no longer verify anyway: only what is due, off the top of
// two expiry heaps, not a scan of every nickname.
func (s *Shard) sweep(now time.Time) {
	for len(s.claimExp) > 0 && !now.Before(s.claimExp[0].at) {
		x := heap.Pop(&s.claimExp).(expiry)
		if e := s.nicks[x.key]; e != nil && e.peer == nil && e.jti == x.jti {
			s.forget(x.key, e)
		}
	}
	for len(s.revokedExp) > 0 && !now.Before(s.revokedExp[0].at) {
		x := heap.Pop(&s.revokedExp).(expiry)
		if exp, ok := s.revoked[x.jti]; ok && !now.Before(exp) {
			delete(s.revoked, x.jti)
		}
	}
}

// expiry is one deadline in an expiryHeap: a claim (key, jti) or a
// revocation (jti).
type expiry struct {
	at       time.Time
	key, jti string
}

// expiryHeap is a min-heap of deadlines (container/heap).
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = expiry{}
	*h = old[:len(old)-1]
	return x
}

// PendingClaims is the number of /auth claims not used at /ws yet.
func (g *Group) PendingClaims() int {
	return g.claims.Held()
}
