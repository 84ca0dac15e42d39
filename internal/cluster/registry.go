package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Record is one node's entry in the registry.
type Record struct {
	ID          string    `json:"id"`
	Incarnation string    `json:"inc"`
	HTTP        string    `json:"http"`
	Admin       string    `json:"admin,omitempty"`
	Started     time.Time `json:"started"`
	Updated     time.Time `json:"updated"`
	Conns       int64     `json:"conns"`
	Rooms       int64     `json:"rooms"`
}

// lostAfter is how many heartbeats in a row may fail before the node
// considers itself cut off from the cluster.
const lostAfter = 3

// heartbeat writes this node's record.
func (n *Node) heartbeat(ctx context.Context) error {
	l := n.opts.Load()
	rec := Record{
		ID: n.opts.NodeID, Incarnation: n.incarnation(), HTTP: l.HTTP, Admin: l.Admin,
		Started: n.start, Updated: time.Now(), Conns: l.Conns, Rooms: l.Rooms,
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err = n.nodes.Put(ctx, n.opts.NodeID, b); err != nil {
		return err
	}
	// The same record on a plain subject: the others' views take it in at
	// once, without waiting for a poll or a KV watcher that a JetStream
	// leader change can stall.
	_ = n.nc.Publish(helloSubj, b)
	return nil
}

// onHello adds another node's record to the view.
func (n *Node) onHello(m *nats.Msg) {
	var r Record
	if json.Unmarshal(m.Data, &r) != nil || r.Incarnation == n.incarnation() {
		return
	}
	n.mu.Lock()
	n.live[r.ID] = r
	n.mu.Unlock()
}

// registryLoop heartbeats, reads the registry, frees what dead nodes held
// and this node's unused /auth claims, and measures the NATS round trip.
func (n *Node) registryLoop(ctx context.Context) {
	t := time.NewTicker(n.opts.Heartbeat)
	defer t.Stop()
	fails := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch n.Phase() {
		case PhaseLost:
			continue // OnLost is still closing the clients
		case PhaseRejoining:
			n.tryRejoin(ctx)
			fails = 0
			continue
		}
		hctx, cancel := n.reqCtx()
		err := n.heartbeat(hctx)
		cancel()
		if err != nil {
			if fails++; fails >= lostAfter {
				n.markLost("registry unreachable: " + err.Error())
			}
			continue
		}
		fails = 0
		if rtt, err := n.nc.RTT(); err == nil {
			n.stats.RTTNanos.Store(int64(rtt))
		}
		n.poll(ctx)
		n.expirePending(ctx, time.Now())
	}
}

// Nodes lists the registry (fresh from the bucket), sorted by id.
func (n *Node) Nodes(ctx context.Context) ([]Record, error) {
	lister, err := n.nodes.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []Record
	for key := range lister.Keys() {
		e, err := n.nodes.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			_ = lister.Stop()
			return nil, err
		}
		var r Record
		if json.Unmarshal(e.Value(), &r) == nil {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// poll refreshes the view of the registry. An incarnation that was alive
// (or owns claims) and is absent from two polls in a row is dead: its
// members leave and its claims are freed.
func (n *Node) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
	recs, err := n.Nodes(pctx)
	cancel()
	if err != nil {
		return // a failed read proves nothing about the others
	}
	live := map[string]Record{}
	alive := map[string]bool{n.incarnation(): true}
	for _, r := range recs {
		live[r.ID] = r
		alive[r.Incarnation] = true
	}
	n.mu.Lock()
	cand := map[string]bool{}
	for _, r := range n.live {
		cand[r.Incarnation] = true
	}
	for _, o := range n.owners {
		cand[o.inc] = true
	}
	for inc := range n.missing {
		cand[inc] = true
	}
	dead := map[string]bool{}
	for inc := range cand {
		if alive[inc] {
			delete(n.missing, inc)
			continue
		}
		if n.missing[inc]++; n.missing[inc] >= 2 {
			dead[inc] = true
			delete(n.missing, inc)
		}
	}
	// Keep nodes heard from recently that the listing missed (a listing
	// can lag a record written a moment ago); death is decided on the
	// listing alone.
	for id, r := range n.live {
		if _, ok := live[id]; !ok && !dead[r.Incarnation] && time.Since(r.Updated) < n.opts.NodeTTL {
			live[id] = r
		}
	}
	n.live = live
	// A node that came or went changes the cluster's room list.
	changed := !maps.Equal(alive, n.alive)
	n.alive = alive
	n.stats.Registry.Store(int64(len(recs)))
	var sweep []claimRef
	for key, o := range n.owners {
		if dead[o.inc] {
			sweep = append(sweep, claimRef{key: key, rev: o.rev})
		}
	}
	n.mu.Unlock()
	if changed {
		n.shards.OtherRoomsChanged()
	}
	for inc := range dead {
		n.opts.Logger.Warn("cluster node gone: its members leave, its nicknames are freed", "incarnation", inc)
		n.shards.DropNode(inc)
	}
	for _, c := range sweep {
		dctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
		if n.claims.Delete(dctx, c.key, jetstream.LastRevision(c.rev)) == nil {
			n.stats.Swept.Add(1)
		}
		cancel()
	}
}

// Live is this node's current view of the registry (refreshed every
// heartbeat), sorted by id.
func (n *Node) Live() []Record {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Record, 0, len(n.live))
	for _, r := range n.live {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// watchNodes adds a node to the view as soon as it writes its record, so a
// node that just joined is asked by the next gather, not a poll later.
// Records that go away are the poll's business (expiry is not an event).
func (n *Node) watchNodes(ctx context.Context, w jetstream.KeyWatcher) {
	watchKV(ctx, w, func(e jetstream.KeyValueEntry) {
		var r Record
		if e.Operation() != jetstream.KeyValuePut || json.Unmarshal(e.Value(), &r) != nil {
			return
		}
		n.mu.Lock()
		n.live[r.ID] = r
		n.mu.Unlock()
	})
}

// watchKV hands fn every update of w until ctx ends or w closes, skipping
// the nil entry that marks the end of the initial values, then stops w.
func watchKV(ctx context.Context, w jetstream.KeyWatcher, fn func(jetstream.KeyValueEntry)) {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				fn(e)
			}
		}
	}
}

// liveCount is how many other nodes the registry shows alive.
func (n *Node) liveCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, r := range n.live {
		if r.Incarnation != n.incarnation() {
			c++
		}
	}
	return c
}
