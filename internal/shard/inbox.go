package shard

import (
	"math"
	"sync"
	"sync/atomic"
)

// inbox is a multi-producer queue drained in whole batches by one consumer.
type inbox struct {
	mu    sync.Mutex
	q     []op
	wake  chan struct{}
	depth atomic.Int64
}

func newInbox() *inbox { return &inbox{wake: make(chan struct{}, 1)} }

// put queues o regardless of depth. Used for ops that must not be lost:
// disconnects, shard-to-shard hand-offs, releases.
func (b *inbox) put(o op) { b.tryPut(o, math.MaxInt) }

// tryPut queues o unless limit ops are already waiting.
func (b *inbox) tryPut(o op, limit int) bool {
	b.mu.Lock()
	if len(b.q) >= limit {
		b.mu.Unlock()
		return false
	}
	b.q = append(b.q, o)
	n := len(b.q)
	b.mu.Unlock()
	b.depth.Store(int64(n))
	if n == 1 {
		b.signal()
	}
	return true
}

func (b *inbox) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// take swaps the queue with spare (which must be empty) and returns it.
func (b *inbox) take(spare []op) []op {
	b.mu.Lock()
	q := b.q
	b.q = spare
	b.mu.Unlock()
	b.depth.Store(0)
	return q
}
