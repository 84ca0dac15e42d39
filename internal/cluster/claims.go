package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrTaken is returned when another token holds the nickname somewhere in
// the cluster.
var ErrTaken = errors.New("nickname in use in the cluster")

// owner is who holds a claim, from the claims bucket.
type owner struct {
	inc string
	jti string
	rev uint64
}

// pending is an /auth claim of this node that no /ws has used yet.
type pending struct {
	jti      string
	deadline time.Time
}

type claimRef struct {
	key string
	rev uint64
}

// claimKey is the bucket key of nick: uniqueness is case-insensitive.
func claimKey(nick string) string { return strings.ToLower(nick) }

func (n *Node) claimValue(jti string) []byte { return []byte(n.incarnation() + " " + jti) }

func parseOwner(v []byte, rev uint64) owner {
	inc, jti, _ := strings.Cut(string(v), " ")
	return owner{inc: inc, jti: jti, rev: rev}
}

// Reserve claims nick for a token /auth just issued. It waits for JetStream
// (call it off the event loops). ErrTaken when someone else holds it.
func (n *Node) Reserve(ctx context.Context, nick, jti string) error {
	key := claimKey(nick)
	var err error
	for range 3 {
		// Create over a key whose delete is landing meanwhile can fail
		// with a sequence conflict rather than ErrKeyExists: look again.
		if _, err = n.claims.Create(ctx, key, n.claimValue(jti)); !casConflict(err) || errors.Is(err, jetstream.ErrKeyExists) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			n.stats.ClaimConflicts.Add(1)
			return ErrTaken
		}
		return fmt.Errorf("claim nickname %q: %w", nick, err)
	}
	n.mu.Lock()
	n.pending[key] = pending{jti: jti, deadline: time.Now().Add(n.opts.ClaimWindow)}
	n.mu.Unlock()
	return nil
}

// Claim binds nick to a /ws connection of token jti on this node: free, or
// already held by the same token (on any node: it moves here). ErrTaken
// when another token holds it. A key that keeps changing under it (the
// same token's release on another node landing meanwhile) is looked at
// again until ctx ends, then refused as busy (retry), never as taken: only
// another token makes a name taken.
func (n *Node) Claim(ctx context.Context, nick, jti string) error {
	key := claimKey(nick)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		done, err := n.claimOnce(ctx, nick, key, jti)
		if errors.Is(err, ErrTaken) {
			n.stats.ClaimConflicts.Add(1)
			return err
		}
		if err != nil {
			return fmt.Errorf("claim nickname %q: %w", nick, err)
		}
		if done {
			n.mu.Lock()
			delete(n.pending, key)
			n.mu.Unlock()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("claim nickname %q: it kept changing until the deadline (%w): %w", nick, ctx.Err(), ErrBusy)
		case <-time.After(wait):
		}
	}
}

// claimOnce is one look at nick's key and one compare-and-set: done, or not done
// because the key changed meanwhile (look again), or an error.
func (n *Node) claimOnce(ctx context.Context, nick, key, jti string) (done bool, err error) {
	e, err := n.claims.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = n.claims.Create(ctx, key, n.claimValue(jti))
	case err != nil:
		return false, err
	default:
		o := parseOwner(e.Value(), e.Revision())
		if o.jti != jti {
			return false, ErrTaken
		}
		if o.inc == n.incarnation() {
			return true, nil
		}
		_, err = n.claims.Update(ctx, key, n.claimValue(jti), e.Revision())
		if err == nil {
			n.takeover(o.inc, nick, jti)
		}
	}
	if casConflict(err) {
		return false, nil // changed meanwhile (a release, a racing claim)
	}
	return err == nil, err
}

// Release frees nick if this node still holds it for token jti. It
// queues the work and returns at once.
func (n *Node) Release(nick, jti string) {
	key := claimKey(nick)
	n.mu.Lock()
	if p, ok := n.pending[key]; ok && p.jti == jti {
		delete(n.pending, key)
	}
	n.mu.Unlock()
	if !n.track() {
		return // stopping: the others sweep this node's claims when it is gone
	}
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.life, releaseDeadline)
		defer cancel()
		n.release(ctx, key, jti)
	}()
}

// releaseDeadline is how long a release keeps trying: JetStream can take
// seconds to move a stream leader under load, and a release that gave up
// would hold the name for as long as this node lives. Stop cuts it short.
const releaseDeadline = 30 * time.Second

// release deletes the claim of key if this node still holds it for jti.
// A failed look-up or delete (a slow or moving JetStream leader) is tried
// again until ctx ends: a release that gave up would hold the name for as
// long as this node lives.
func (n *Node) release(ctx context.Context, key, jti string) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		e, err := n.claims.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return
		}
		if err == nil {
			if o := parseOwner(e.Value(), e.Revision()); o.inc != n.incarnation() || o.jti != jti {
				return // someone else's now
			}
			err = n.claims.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
			if err == nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			n.opts.Logger.Warn("nickname claim not released", "key", key, "err", err)
			return
		case <-time.After(wait):
		}
	}
}

// expirePending frees /auth claims whose window passed unused.
func (n *Node) expirePending(ctx context.Context, now time.Time) {
	n.mu.Lock()
	var due []claimRef
	var jtis []string
	for key, p := range n.pending {
		if now.After(p.deadline) {
			due = append(due, claimRef{key: key})
			jtis = append(jtis, p.jti)
			delete(n.pending, key)
		}
	}
	n.mu.Unlock()
	for i, c := range due {
		rctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
		n.release(rctx, c.key, jtis[i])
		cancel()
	}
}

// watchClaims mirrors the claims bucket's owners, so the claims of a dead
// node can be found without reading every key.
func (n *Node) watchClaims(ctx context.Context, w jetstream.KeyWatcher) {
	watchKV(ctx, w, func(e jetstream.KeyValueEntry) {
		n.mu.Lock()
		defer n.mu.Unlock()
		if e.Operation() == jetstream.KeyValuePut {
			n.owners[e.Key()] = parseOwner(e.Value(), e.Revision())
		} else {
			delete(n.owners, e.Key())
		}
	})
}

// casConflict reports whether err is a compare-and-set write that lost a
// race: the key changed since it was read. A replicated bucket reports it
// as code 10164, which neither jetstream.ErrKeyExists matches nor, when
// Create rewrites a deleted key, jetstream.ErrKeyRevisionMismatch; taken
// for a failure it refused a moving claim with 503 (a client reconnecting
// on another node while its old socket's release ran).
func casConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		(errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant))
}
