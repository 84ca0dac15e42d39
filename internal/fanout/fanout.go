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
	// Control handles an out-of-band event from a shard (a reply to an
	// asynchronous request, a close order...). Frames queued before it have
	// been written already, so order is kept.
	Control(c any)
}

// Slot is the per-peer state a Loop uses while it runs one task: the peer's
// frames form a linked list through the task's queue.
type Slot struct {
	head, tail int32
	listed     bool // in the task's dirty list
	pending    bool // the list is non-empty
	// overflow: a frame for this peer did not fit in the loop's queue and
	// an Overflow control is queued in its place (set by any pusher).
	overflow atomic.Bool
}

// Overflow is the control a peer gets in place of the first frame that did
// not fit in its loop's queue (SetMaxQueue): it has lost frames and must be
// closed (as a slow consumer) rather than go on with a gap.
type Overflow struct{}

// Delivery is one frame (or one control event) for one peer.
type Delivery struct {
	To    Peer
	Frame []byte
	Ctl   any
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

	// linger is the coalescing window: a task runs at once unless the last
	// one ran less than linger ago; then it waits out the rest of the
	// window, so a busy loop writes each connection at most once per
	// window with everything that arrived meanwhile.
	linger  time.Duration
	lastRun atomic.Int64 // unix nanos of the last task's start

	mu        sync.Mutex
	queue     []Delivery
	scheduled bool
	max       int // frames queued at most (0 = no bound); controls always fit

	// Loop-only state (touched only inside run, on the event loop).
	spare  []Delivery
	dirty  []Peer
	next   []int32  // per-task linked lists of each peer's frames
	frames [][]byte // one peer's frames for one write
	runFn  func()

	// Counters, written on the loop, read anywhere.
	Deliveries atomic.Uint64 // frames handed to peers
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

// SetLinger sets the coalescing window (0: every push schedules a task at
// once). Call before the first Push.
func (l *Loop) SetLinger(d time.Duration) { l.linger = d }

// SetMaxQueue bounds the deliveries waiting for the loop (0 = no bound).
// Frames past it are dropped and their peer gets Overflow; controls (claim
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
// not fit gets one Overflow control instead (in its place, so everything
// queued for it before is still delivered first). l.mu is held.
func (l *Loop) pushBounded(ds []Delivery) {
	for _, d := range ds {
		switch {
		case d.Ctl != nil || len(l.queue) < l.max:
			l.queue = append(l.queue, d)
		default:
			l.Dropped.Add(1)
			if d.To.Slot().overflow.CompareAndSwap(false, true) {
				l.queue = append(l.queue, Delivery{To: d.To, Ctl: Overflow{}})
			}
		}
	}
}

// kick schedules the task: now, or at the end of the linger window.
func (l *Loop) kick() {
	if l.linger > 0 {
		if wait := time.Duration(l.lastRun.Load()+int64(l.linger)) - time.Duration(time.Now().UnixNano()); wait > 0 {
			time.AfterFunc(wait, l.kickNow)
			return
		}
	}
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
	l.lastRun.Store(time.Now().UnixNano())
	l.mu.Lock()
	q := l.queue
	l.queue = l.spare[:0]
	l.scheduled = false
	l.mu.Unlock()

	if cap(l.next) < len(q) {
		l.next = make([]int32, len(q), cap(q))
	}
	next := l.next[:len(q)]
	dirty := l.dirty[:0]
	for i := range q {
		d := &q[i]
		s := d.To.Slot()
		if d.Ctl != nil {
			if s.pending {
				l.write(q, next, d.To, s)
			}
			d.To.Control(d.Ctl)
			continue
		}
		next[i] = -1
		if s.pending {
			next[s.tail] = int32(i)
		} else {
			s.head, s.pending = int32(i), true
		}
		s.tail = int32(i)
		if !s.listed {
			s.listed = true
			dirty = append(dirty, d.To)
		}
	}
	for _, p := range dirty {
		s := p.Slot()
		if s.pending {
			l.write(q, next, p, s)
		}
		s.listed = false
	}
	l.Deliveries.Add(uint64(len(q)))
	clear(dirty)
	l.dirty = shrink(dirty)
	l.next = shrink(next)
	clear(q) // drop frame references so they can be collected
	l.spare = shrink(q)
}

// write hands p the frames listed in its slot and empties the list.
func (l *Loop) write(q []Delivery, next []int32, p Peer, s *Slot) {
	frames := l.frames[:0]
	for i := s.head; i >= 0; i = next[i] {
		frames = append(frames, q[i].Frame)
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

// Control queues a control event for p, ordered with its frames.
func (b *Batch) Control(p Peer, c any) {
	i := p.Loop().Index
	b.per[i] = append(b.per[i], Delivery{To: p, Ctl: c})
	b.n++
}

// Len is the number of deliveries queued since the last Flush.
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
