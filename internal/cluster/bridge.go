package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/ics-chat/ics/internal/shard"
)

var _ shard.Bridge = (*Node)(nil)

// outItem is one thing for the publisher: an encoded event, or a watch
// change, in the order the shards produced them.
type outItem struct {
	room  string
	data  []byte // nil: a watch change
	watch bool
}

// outbox is the queue from the shards to the publisher goroutine.
type outbox struct {
	mu     sync.Mutex
	q      []outItem
	limit  int
	wake   chan struct{}
	closed bool
}

func (o *outbox) init(limit int) {
	o.limit, o.wake = limit, make(chan struct{}, 1)
}

// put queues it; events (not watch changes) are dropped past the limit.
func (o *outbox) put(it outItem) bool {
	o.mu.Lock()
	if o.closed || (it.data != nil && len(o.q) >= o.limit) {
		o.mu.Unlock()
		return false
	}
	o.q = append(o.q, it)
	n := len(o.q)
	o.mu.Unlock()
	if n == 1 {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	return true
}

func (o *outbox) take(spare []outItem) ([]outItem, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.q
	o.q = spare
	return q, o.closed
}

func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Watch implements shard.Bridge.
func (n *Node) Watch(room string, on bool) {
	n.out.put(outItem{room: room, watch: on})
}

// Out implements shard.Bridge: the event is encoded here, once, and
// published once to the room's subject.
func (n *Node) Out(room string, ev shard.Event) {
	if !n.out.put(outItem{room: room, data: encodeEvent(n.incarnation(), &ev)}) {
		n.stats.Dropped.Add(1)
	}
}

// publisher sends the outbox in order: a subscription is made before the
// events that follow it, so a node that announces a member is already
// listening to the room.
func (n *Node) publisher(ctx context.Context) {
	subs := map[string]*nats.Subscription{}
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	var spare []outItem
	for {
		q, closed := n.out.take(spare)
		for i := range q {
			n.send(subs, &q[i])
			q[i] = outItem{}
		}
		spare = q[:0]
		if closed {
			return
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-n.out.wake:
		case <-ctx.Done():
			// Stop closes the outbox right after: drain what is left.
			<-n.out.wake
		}
	}
}

func (n *Node) send(subs map[string]*nats.Subscription, it *outItem) {
	subj := roomSubject + it.room
	switch {
	case it.data != nil:
		if err := n.nc.Publish(subj, it.data); err == nil {
			n.stats.MessagesOut.Add(1)
		} else {
			n.stats.Dropped.Add(1)
		}
	case it.watch:
		if subs[it.room] != nil {
			return
		}
		room := it.room
		s, err := n.nc.Subscribe(subj, func(m *nats.Msg) { n.onRoom(room, m.Data) })
		if err != nil {
			n.opts.Logger.Error("subscribe room", "room", room, "err", err)
			return
		}
		_ = s.SetPendingLimits(-1, 256<<20)
		subs[room] = s
		// Ask the room's other nodes who is there; their answers come on
		// the room subject, in order with their events.
		if err := n.nc.Publish(subj, encodeEvent(n.incarnation(), &shard.Event{Kind: shard.EvSnapshotReq})); err == nil {
			n.stats.MessagesOut.Add(1)
		}
	default:
		if s := subs[it.room]; s != nil {
			_ = s.Unsubscribe()
			delete(subs, it.room)
		}
	}
}

// onRoom hands an event from another node to the room's shard.
func (n *Node) onRoom(room string, data []byte) {
	ev, err := decodeEvent(data)
	if err != nil || ev.Origin == n.incarnation() {
		return
	}
	n.stats.MessagesIn.Add(1)
	g := n.shards
	if !g.Shard(g.RoomShard(room)).Remote(room, ev) {
		n.stats.Dropped.Add(1)
	}
}

// The envelope: kind, origin, stream, seq, nick, old, the nick list, then
// the frame. Strings are uvarint-length prefixed; seq is a uvarint.
func encodeEvent(origin string, ev *shard.Event) []byte {
	size := 1 + 5*binary.MaxVarintLen16 + binary.MaxVarintLen64 + len(origin) + len(ev.Stream) + len(ev.Nick) + len(ev.Old) + len(ev.Frame)
	for _, s := range ev.Nicks {
		size += len(s) + binary.MaxVarintLen16
	}
	b := make([]byte, 0, size)
	b = append(b, byte(ev.Kind))
	b = appendString(b, origin)
	b = appendString(b, ev.Stream)
	b = binary.AppendUvarint(b, ev.Seq)
	b = appendString(b, ev.Nick)
	b = appendString(b, ev.Old)
	b = binary.AppendUvarint(b, uint64(len(ev.Nicks)))
	for _, s := range ev.Nicks {
		b = appendString(b, s)
	}
	return append(b, ev.Frame...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errEnvelope = errors.New("cluster: malformed event envelope")

func decodeEvent(b []byte) (shard.Event, error) {
	var ev shard.Event
	if len(b) < 1 {
		return ev, errEnvelope
	}
	ev.Kind = shard.EventKind(b[0])
	b = b[1:]
	var ok bool
	if ev.Origin, b, ok = readString(b); !ok {
		return ev, errEnvelope
	}
	if ev.Stream, b, ok = readString(b); !ok {
		return ev, errEnvelope
	}
	seq, k := binary.Uvarint(b)
	if k <= 0 {
		return ev, errEnvelope
	}
	ev.Seq, b = seq, b[k:]
	for _, dst := range []*string{&ev.Nick, &ev.Old} {
		if *dst, b, ok = readString(b); !ok {
			return ev, errEnvelope
		}
	}
	cnt, k := binary.Uvarint(b)
	if k <= 0 || cnt > uint64(len(b)) {
		return ev, errEnvelope
	}
	b = b[k:]
	for range cnt {
		var s string
		if s, b, ok = readString(b); !ok {
			return ev, errEnvelope
		}
		ev.Nicks = append(ev.Nicks, s)
	}
	ev.Frame = b
	return ev, nil
}

func readString(b []byte) (string, []byte, bool) {
	l, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < l {
		return "", nil, false
	}
	return string(b[k : k+int(l)]), b[k+int(l):], true
}
