package fanout

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Peer is the receiving end of deliveries: one client connection. Its
// methods are called only on the event loop that owns it.
type Peer interface {
	// Loop is the loop that owns the peer. It never changes.
	Loop() *Loop
	// Slot is the loop's bookkeeping space inside the peer, so grouping
	// frames by peer needs no map and no per-peer buffer.
	Slot() *Slot
	// Write sends frames (in order) with one write call. frames is only
	// valid during the call.
	Write(frames [][]byte)
	// Overflowed says a frame for the peer did not fit in its loop's queue
	// (SetMaxQueue) and was dropped: the peer has lost frames and must be
	// closed (as a slow consumer) rather than go on with a gap. Frames
	// queued before the lost one have been written already.
	Overflowed()
}

// Event is an out-of-band message for one peer, delivered in order with
// its frames: every frame queued for the peer before the event has been
// written when Deliver runs, on the peer's event loop. The event carries
// its recipient itself, so Deliver is a typed call on it (shard's events
// call a shard.Conn method): the loop never inspects or switches on it.
type Event interface {
	Deliver()
}

// Slot is the per-peer state a Loop uses while it runs one task: the peer's
// frames form a linked list through the task's queue.
type Slot struct {
	head, tail int32
	listed     bool // in the task's dirty list
	pending    bool // the list is non-empty
	// overflow: a frame for this peer did not fit in the loop's queue and
	// an overflow event is queued in its place (set by any pusher).
	overflow atomic.Bool
}

// overflowed is the event a peer gets in place of the first frame that did
// not fit in its loop's queue.
type overflowed struct{ p Peer }

func (o overflowed) Deliver() { o.p.Overflowed() }

// Delivery is one frame (or one event) for one peer, or one frame for
// every peer of a Group's list (Peers set, To nil).
type Delivery struct {
	To    Peer
	Frame []byte
	Ev    Event  // when set, To gets this event instead of a frame
	Peers []Peer // a Group's list as handed out: read-only from then on
}

// Executor runs fn on the event loop at some later time. It returns an error
// only when the loop is gone.
type Executor func(fn func()) error

// Loop is the shard-facing side of one event loop.
type Loop struct {
	// Index is the loop's position in the server's loop list; shards use it
	// to keep one Batch per loop.
	Index int
	exec  atomic.Pointer[Executor]

	// The coalescing window: a task runs at once unless the last one ran
	// less than window ago; then it waits out the rest of the window, so a
	// busy loop writes each connection at most once per window with
	// everything that arrived meanwhile. The window adapts (see adapt):
	// between linger (the floor) and lingerMax it follows the loop's
	// measured busy time per task.
	linger    time.Duration
	lingerMax time.Duration
	window    atomic.Int64 // nanos: the live window
	lastRun   atomic.Int64 // unix nanos of the last task's start
	dueAt     atomic.Int64 // unix nanos the pending task was meant to start
	busy      float64      // loop-only: smoothed busy nanos per task
	cycle     float64      // loop-only: smoothed nanos between task starts
	batch     float64      // loop-only: smoothed frames per peer written per task
	taskBatch float64      // loop-only: this task's frames per peer written

	mu        sync.Mutex
	queue     []Delivery
	scheduled bool
	max       int // frames queued at most (0 = no bound); events always fit

	// Loop-only state (touched only inside run, on the event loop).
	spare  []Delivery
	dirty  []Peer
	next   []int32  // per-task linked lists of each peer's frames, by item
	src    []int32  // item → index in the task's queue of the frame it carries
	frames [][]byte // one peer's frames for one write
	runFn  func()

	// Counters, written on the loop, read anywhere.
	Deliveries atomic.Uint64 // frames and events handed to peers
	Dropped    atomic.Uint64 // frames refused because the queue was full
}

// NewLoop returns a Loop that schedules its work with exec. exec may be nil
// and set later with SetExecutor, before the first Push.
func NewLoop(index int, exec Executor) *Loop {
	l := &Loop{Index: index}
	if exec != nil {
		l.exec.Store(&exec)
	}
	l.runFn = l.run
	return l
}

// NewLoops returns n Loops without executors (see SetExecutor).
func NewLoops(n int) []*Loop {
	ls := make([]*Loop, n)
	for i := range ls {
		ls[i] = NewLoop(i, nil)
	}
	return ls
}

// SetLinger sets a fixed coalescing window (0: every push schedules a task
// at once). Call before the first Push.
func (l *Loop) SetLinger(d time.Duration) { l.SetAdaptiveLinger(d, d) }

// SetAdaptiveLinger sets the coalescing window's floor and its ceiling (the
// latency budget): under load the window is adaptGain times the loop's
// smoothed busy time per task, kept within [floor, ceil]; ceil <= floor
// fixes it at floor. Call before the first Push.
func (l *Loop) SetAdaptiveLinger(floor, ceil time.Duration) {
	l.linger, l.lingerMax = floor, max(floor, ceil)
	l.window.Store(int64(floor))
}

// Window is the live coalescing window. A loop idle for longer than twice
// the ceiling reports the floor: its next task runs at once and resets the
// window (see adapt).
func (l *Loop) Window() time.Duration {
	if time.Now().UnixNano()-l.lastRun.Load() > 2*int64(l.lingerMax) {
		return l.linger
	}
	return time.Duration(l.window.Load())
}

// adaptGain is how many times its busy time per task a loaded loop waits
// between tasks: the write passes then take at most about 1/adaptGain of
// the loop's time, and a loop slowed down (by load or by a neighbour
// stealing CPU) buys frames per write instead of queueing.
const adaptGain = 4

// adaptMinBatch is how many frames a task must write per peer, on average,
// before the window widens: below it the peers get about one frame per
// window, so a wider one cannot put more in a write, only add latency.
// (Measured on the 2-core machine: at 25k deliveries/s in 10 rooms × 100 the
// window sat at its 25 ms ceiling, busy inflated by CPU contention, with
// 1.6 frames per write and p50 20 ms; at 1M/s the tasks write ~29 per peer.)
const adaptMinBatch = 2

// adaptMinDuty is the share of its time a loop must spend on tasks before
// its window widens. Below it frames arrive too sparsely for a wider window
// to put more of them in one write: it would only add latency. (A loop kept
// busy by a window of adaptGain × busy runs at about 1/(adaptGain+1).)
const adaptMinDuty = 0.18

// SetMaxQueue bounds the deliveries waiting for the loop (0 = no bound).
// Frames past it are dropped and their peer gets Overflowed; events (claim
// and join replies, close orders) are never dropped. Call before the
// first Push.
func (l *Loop) SetMaxQueue(n int) { l.max = n }

// SetExecutor binds the Loop to its event loop.
func (l *Loop) SetExecutor(exec Executor) { l.exec.Store(&exec) }

func (l *Loop) schedule() error {
	e := l.exec.Load()
	if e == nil {
		return errUnbound
	}
	return (*e)(l.runFn)
}

var errUnbound = errors.New("fanout: loop has no executor")

// Push queues deliveries (copied; the caller may reuse ds) and makes sure one
// task is pending on the event loop. It never blocks on I/O.
func (l *Loop) Push(ds []Delivery) {
	if len(ds) == 0 {
		return
	}
	l.mu.Lock()
	if l.max > 0 && len(l.queue)+len(ds) > l.max {
		l.pushBounded(ds)
	} else {
		l.queue = append(l.queue, ds...)
	}
	schedule := !l.scheduled
	l.scheduled = true
	l.mu.Unlock()
	if schedule {
		l.kick()
	}
}

// pushBounded appends what fits under max; each peer with a frame that does
// not fit gets one overflow event instead (in its place, so everything
// queued for it before is still delivered first). l.mu is held.
func (l *Loop) pushBounded(ds []Delivery) {
	for _, d := range ds {
		switch {
		case d.Ev != nil || len(l.queue) < l.max:
			l.queue = append(l.queue, d)
		case d.Peers != nil: // a group's frame: every member of the list lost it
			for _, p := range d.Peers {
				l.overflow(p)
			}
		default:
			l.overflow(d.To)
		}
	}
}

// overflow counts a frame for p that did not fit and queues p's one
// overflow event. l.mu is held.
func (l *Loop) overflow(p Peer) {
	l.Dropped.Add(1)
	if p.Slot().overflow.CompareAndSwap(false, true) {
		l.queue = append(l.queue, Delivery{To: p, Ev: overflowed{p}})
	}
}

// kick schedules the task: now, or at the end of the linger window.
func (l *Loop) kick() {
	now := time.Now().UnixNano()
	if w := l.window.Load(); w > 0 {
		if due := l.lastRun.Load() + w; due > now {
			l.dueAt.Store(due)
			time.AfterFunc(time.Duration(due-now), l.kickNow)
			return
		}
	}
	l.dueAt.Store(now)
	l.kickNow()
}

func (l *Loop) kickNow() {
	if err := l.schedule(); err != nil {
		// The event loop is gone (shutdown): nobody will read these.
		l.mu.Lock()
		clear(l.queue)
		l.queue = l.queue[:0]
		l.scheduled = false
		l.mu.Unlock()
	}
}

// RunNow processes the queue on the calling goroutine, which must be the
// event loop. Used by the owner of the loop when it wants pending deliveries
// out before it acts (e.g. during drain).
func (l *Loop) RunNow() { l.run() }

func (l *Loop) run() {
	start := time.Now().UnixNano()
	prev := l.lastRun.Swap(start)
	// Read before the queue is released: a push during this task may kick
	// the next one and overwrite it.
	due := l.dueAt.Load()
	defer l.adapt(start, prev, due)
	l.mu.Lock()
	q := l.queue
	l.queue = l.spare[:0]
	l.scheduled = false
	l.mu.Unlock()

	// Every (peer, frame) pair is an item: a group delivery expands into
	// one item per peer here, on the loop, not on the shard. Items only
	// record which queue entry holds their frame and which item follows
	// them in their peer's list.
	l.next, l.src, l.dirty = l.next[:0], l.src[:0], l.dirty[:0]
	evs := 0
	for i := range q {
		d := &q[i]
		if d.Peers != nil {
			for _, p := range d.Peers {
				l.link(p, int32(i))
			}
			continue
		}
		if d.Ev != nil {
			if s := d.To.Slot(); s.pending {
				l.write(q, d.To, s)
			}
			d.Ev.Deliver()
			evs++
			continue
		}
		l.link(d.To, int32(i))
	}
	for _, p := range l.dirty {
		s := p.Slot()
		if s.pending {
			l.write(q, p, s)
		}
		s.listed = false
	}
	l.Deliveries.Add(uint64(len(l.src) + evs))
	l.taskBatch = 0
	if len(l.dirty) > 0 {
		l.taskBatch = float64(len(l.src)) / float64(len(l.dirty))
	}
	clear(l.dirty)
	l.dirty = shrink(l.dirty)
	l.next = shrink(l.next)
	l.src = shrink(l.src)
	clear(q) // drop frame references so they can be collected
	l.spare = shrink(q)
}

// adapt sets the next window from this task's busy time: how long it ran
// plus how late it started (the loop was busy with other work: reads,
// handshakes, other tasks). The window widens only while that busy time is
// a real share of the loop's time (adaptMinDuty) and the writes carry
// several frames each (adaptMinBatch); sparse traffic keeps the floor. An idle gap longer than twice the ceiling resets the averages, so
// a loop that went quiet writes at once again.
func (l *Loop) adapt(start, prev, due int64) {
	if l.lingerMax <= l.linger {
		return
	}
	end := time.Now().UnixNano()
	busy := float64(end - start)
	if late := start - due; late > 0 {
		busy += float64(late)
	}
	cycle := float64(start - prev)
	if start-prev > 2*int64(l.lingerMax) {
		// After a quiet spell judge this task alone, as if the next
		// followed it one floor window later.
		l.busy, l.cycle, l.batch = busy, busy+float64(l.linger), l.taskBatch
	} else {
		l.busy += (busy - l.busy) / 4
		l.cycle += (cycle - l.cycle) / 4
		l.batch += (l.taskBatch - l.batch) / 4
	}
	w := l.linger
	if l.busy >= adaptMinDuty*l.cycle && l.batch >= adaptMinBatch {
		w = min(max(time.Duration(adaptGain*l.busy), l.linger), l.lingerMax)
	}
	l.window.Store(int64(w))
}

// link appends item (p, frame of queue entry qi) to p's list.
func (l *Loop) link(p Peer, qi int32) {
	k := int32(len(l.src))
	l.src = append(l.src, qi)
	l.next = append(l.next, -1)
	s := p.Slot()
	if s.pending {
		l.next[s.tail] = k
	} else {
		s.head, s.pending = k, true
	}
	s.tail = k
	if !s.listed {
		s.listed = true
		l.dirty = append(l.dirty, p)
	}
}

// write hands p the frames listed in its slot and empties the list.
func (l *Loop) write(q []Delivery, p Peer, s *Slot) {
	frames := l.frames[:0]
	for i := s.head; i >= 0; i = l.next[i] {
		frames = append(frames, q[l.src[i]].Frame)
		if i == s.tail {
			break
		}
	}
	s.pending = false
	p.Write(frames)
	clear(frames)
	l.frames = shrink(frames)
}

// shrink keeps a reusable slice unless one burst made it much larger than
// usual: retained capacity is memory every idle server pays for.
func shrink[T any](s []T) []T {
	if cap(s) > 4096 && len(s) < cap(s)/4 {
		return nil
	}
	return s[:0]
}

// Batch collects one shard's deliveries for every loop during one pass over
// its inbox. It belongs to that shard goroutine alone.
type Batch struct {
	loops []*Loop
	per   [][]Delivery
	n     int
}

// NewBatch returns a Batch over the server's loops.
func NewBatch(loops []*Loop) *Batch {
	return &Batch{loops: loops, per: make([][]Delivery, len(loops))}
}

// Add queues frame for p.
func (b *Batch) Add(p Peer, frame []byte) {
	i := p.Loop().Index
	b.per[i] = append(b.per[i], Delivery{To: p, Frame: frame})
	b.n++
}

// AddAt queues frame for p, whose loop index is known to be loop.
func (b *Batch) AddAt(loop int, p Peer, frame []byte) {
	b.per[loop] = append(b.per[loop], Delivery{To: p, Frame: frame})
	b.n++
}

// AddGroup queues frame for every peer in g, whose peers are all on loop
// loop: one entry for the loop, which expands it. g's current list is
// handed out as is; g copies it before its next removal.
func (b *Batch) AddGroup(loop int, g *Group, frame []byte) {
	if len(g.peers) == 0 {
		return
	}
	g.shared = true
	b.per[loop] = append(b.per[loop], Delivery{Frame: frame, Peers: g.peers})
	b.n += len(g.peers)
}

// Event queues ev for p (ev must deliver to p), ordered with p's frames.
func (b *Batch) Event(p Peer, ev Event) {
	i := p.Loop().Index
	b.per[i] = append(b.per[i], Delivery{To: p, Ev: ev})
	b.n++
}

// Len is the number of deliveries (peers reached) queued since the last
// Flush.
func (b *Batch) Len() int { return b.n }

// Flush hands every loop its deliveries: one Push per loop with work.
func (b *Batch) Flush() {
	for i, ds := range b.per {
		if len(ds) == 0 {
			continue
		}
		b.loops[i].Push(ds)
		clear(ds)
		b.per[i] = shrink(ds)
	}
	b.n = 0
}

// Group is a list of peers on one loop that a shard broadcasts to as a
// whole (a room's members on that loop), so a broadcast costs the shard one
// entry per loop instead of one per peer. Batch.AddGroup hands the loop the
// list itself; a list that was handed out is never overwritten: Remove
// copies it first (copy on write). Add only appends past the end of what
// was handed out, which no loop reads. A Group belongs to one shard.
type Group struct {
	peers  []Peer
	shared bool // peers was handed to a loop since it was last copied
}

// Len is the number of peers in the group.
func (g *Group) Len() int { return len(g.peers) }

// Add appends p and returns its position.
func (g *Group) Add(p Peer) int {
	g.peers = append(g.peers, p)
	return len(g.peers) - 1
}

// Remove takes out the peer at position i by moving the last peer into
// its place, and returns the moved peer (nil when i was the last).
func (g *Group) Remove(i int) (moved Peer) {
	if g.shared {
		g.peers = append(make([]Peer, 0, len(g.peers)+len(g.peers)/4+4), g.peers...)
		g.shared = false
	}
	last := len(g.peers) - 1
	if i != last {
		moved = g.peers[last]
		g.peers[i] = moved
	}
	g.peers[last] = nil
	g.peers = g.peers[:last]
	return moved
}
