package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// watchers runs the KV watchers: the claims mirror (for sweeping dead
// nodes' claims) and the registry watch (newcomers at once). A rejoin
// restarts them: after a NATS server restart the buckets may be new
// streams, which an old watcher would never see.
type watchers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start watches both buckets until parent ends or stop.
func (w *watchers) start(parent context.Context, n *Node) error {
	ctx, cancel := context.WithCancel(parent)
	cw, err := n.claims.WatchAll(ctx)
	if err != nil {
		cancel()
		return fmt.Errorf("watch %s: %w", ClaimsBucket, err)
	}
	nw, err := n.nodes.WatchAll(ctx)
	if err != nil {
		_ = cw.Stop()
		cancel()
		return fmt.Errorf("watch %s: %w", NodesBucket, err)
	}
	w.cancel = cancel
	w.wg.Add(2)
	go func() { defer w.wg.Done(); n.watchClaims(ctx, cw) }()
	go func() { defer w.wg.Done(); n.watchNodes(ctx, nw) }()
	return nil
}

// stop ends both watchers and waits for them.
func (w *watchers) stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
}

var errNotConnected = errors.New("not connected to NATS")

// tryRejoin puts a node that lost the cluster back in it, once it reaches
// NATS again. It comes back as a new incarnation: the others see the old
// one vanish from the registry and treat it as dead (its members leave,
// its nickname claims are swept), as they would a restarted process; it
// holds no connection of the old one (OnLost closed them all). A failed
// attempt is tried again at the next heartbeat.
func (n *Node) tryRejoin(ctx context.Context) {
	if err := n.rejoin(ctx); err != nil {
		n.opts.Logger.Debug("cluster rejoin failed; trying again", "node", n.opts.NodeID, "err", err)
		return
	}
	if !n.phase.CompareAndSwap(int32(PhaseRejoining), int32(PhaseUp)) {
		return // lost again meanwhile
	}
	n.stats.Rejoined.Add(1)
	n.opts.Logger.Info("cluster rejoined: ready again", "node", n.opts.NodeID, "incarnation", n.incarnation())
	n.opts.OnRejoined()
}

func (n *Node) rejoin(ctx context.Context) error {
	if !n.nc.IsConnected() {
		return errNotConnected
	}
	bctx, cancel := context.WithTimeout(ctx, n.opts.StartTimeout)
	defer cancel()
	// The buckets are gone if the NATS servers restarted without their
	// store: create them again (the handles work on the new streams).
	for _, cfg := range n.bucketConfigs() {
		if _, err := n.bucket(bctx, cfg); err != nil {
			return err
		}
	}
	n.watch.stop()
	n.mu.Lock()
	n.owners = map[string]owner{}
	n.mu.Unlock()
	if err := n.watch.start(ctx, n); err != nil {
		return err
	}
	n.newIncarnation()
	hctx, hcancel := n.reqCtx()
	err := n.heartbeat(hctx)
	hcancel()
	if err != nil {
		return fmt.Errorf("register node %s: %w", n.opts.NodeID, err)
	}
	n.poll(ctx)
	return nil
}

// bucketConfigs are the registry's and the claims' buckets.
func (n *Node) bucketConfigs() []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{Bucket: NodesBucket, TTL: n.opts.NodeTTL, Storage: jetstream.MemoryStorage},
		{Bucket: ClaimsBucket, Storage: jetstream.MemoryStorage},
	}
}
