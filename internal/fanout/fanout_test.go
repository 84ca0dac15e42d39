package fanout

import (
	"reflect"
	"testing"
	"time"
)

type fakePeer struct {
	loop   *Loop
	slot   Slot
	writes [][]string // frames of each Write call
	events []string   // frames and events, in order
}

func (p *fakePeer) Loop() *Loop { return p.loop }
func (p *fakePeer) Slot() *Slot { return &p.slot }
func (p *fakePeer) Write(frames [][]byte) {
	var w []string
	for _, f := range frames {
		w = append(w, string(f))
		p.events = append(p.events, "frame:"+string(f))
	}
	p.writes = append(p.writes, w)
}
func (p *fakePeer) Overflowed() { p.events = append(p.events, "overflow") }

// note is an event for a fakePeer, recorded as "ctl:" + text.
type note struct {
	p    *fakePeer
	text string
}

func (n note) Deliver() { n.p.events = append(n.p.events, "ctl:"+n.text) }

// manualExec queues tasks until the test runs them, like an event loop
// that is busy elsewhere.
type manualExec struct{ tasks []func() }

func (m *manualExec) exec(fn func()) error { m.tasks = append(m.tasks, fn); return nil }
func (m *manualExec) runAll() {
	for len(m.tasks) > 0 {
		t := m.tasks[0]
		m.tasks = m.tasks[1:]
		t()
	}
}

func TestOneWritePerPeerPerTask(t *testing.T) {
	var ex manualExec
	l := NewLoop(0, ex.exec)
	a, b := &fakePeer{loop: l}, &fakePeer{loop: l}
	bt := NewBatch([]*Loop{l})
	for i := 0; i < 5; i++ {
		bt.Add(a, []byte{byte('0' + i)})
		bt.Add(b, []byte{byte('a' + i)})
	}
	bt.Flush()
	bt.Add(a, []byte("5"))
	bt.Flush() // a second push before the loop ran: still one task
	if len(ex.tasks) != 1 {
		t.Fatalf("%d tasks pending, want 1", len(ex.tasks))
	}
	ex.runAll()
	if !reflect.DeepEqual(a.writes, [][]string{{"0", "1", "2", "3", "4", "5"}}) {
		t.Fatalf("a got writes %v, want one write of 6 frames in order", a.writes)
	}
	if !reflect.DeepEqual(b.writes, [][]string{{"a", "b", "c", "d", "e"}}) {
		t.Fatalf("b got writes %v", b.writes)
	}
	// The slot is clean for the next task.
	bt.Add(a, []byte("6"))
	bt.Flush()
	ex.runAll()
	if len(a.writes) != 2 || a.writes[1][0] != "6" {
		t.Fatalf("a writes %v", a.writes)
	}
}

// An event is delivered after every frame queued for its peer before it and
// before those queued after it.
func TestEventKeepsOrderWithFrames(t *testing.T) {
	var ex manualExec
	l := NewLoop(0, ex.exec)
	a := &fakePeer{loop: l}
	bt := NewBatch([]*Loop{l})
	bt.Add(a, []byte("1"))
	bt.Add(a, []byte("2"))
	bt.Event(a, note{a, "joined"})
	bt.Add(a, []byte("3"))
	bt.Flush()
	ex.runAll()
	want := []string{"frame:1", "frame:2", "ctl:joined", "frame:3"}
	if !reflect.DeepEqual(a.events, want) {
		t.Fatalf("events %v, want %v", a.events, want)
	}
}

func TestBatchRoutesByLoop(t *testing.T) {
	var ex0, ex1 manualExec
	l0, l1 := NewLoop(0, ex0.exec), NewLoop(1, ex1.exec)
	a, b := &fakePeer{loop: l0}, &fakePeer{loop: l1}
	bt := NewBatch([]*Loop{l0, l1})
	bt.Add(a, []byte("x"))
	bt.Add(b, []byte("y"))
	if bt.Len() != 2 {
		t.Fatalf("Len %d", bt.Len())
	}
	bt.Flush()
	if len(ex0.tasks) != 1 || len(ex1.tasks) != 1 || bt.Len() != 0 {
		t.Fatalf("tasks %d/%d len %d", len(ex0.tasks), len(ex1.tasks), bt.Len())
	}
	ex0.runAll()
	ex1.runAll()
	if len(a.writes) != 1 || len(b.writes) != 1 {
		t.Fatalf("writes %v %v", a.writes, b.writes)
	}
}

func TestUnboundLoopDropsInsteadOfBlocking(t *testing.T) {
	l := NewLoop(0, nil)
	a := &fakePeer{loop: l}
	l.Push([]Delivery{{To: a, Frame: []byte("x")}})
	l.mu.Lock()
	n, sched := len(l.queue), l.scheduled
	l.mu.Unlock()
	if n != 0 || sched {
		t.Fatalf("queue %d scheduled %v after a failed schedule", n, sched)
	}
}

// A group broadcast reaches every peer of the group in the order it was
// queued among single frames and events, with one write per peer, and
// counts one delivery per peer and per event.
func TestGroupDeliveryKeepsOrder(t *testing.T) {
	var ex manualExec
	l := NewLoop(0, ex.exec)
	a, b, c := &fakePeer{loop: l}, &fakePeer{loop: l}, &fakePeer{loop: l}
	var g Group
	for _, p := range []*fakePeer{a, b, c} {
		g.Add(p)
	}
	bt := NewBatch([]*Loop{l})
	bt.Add(b, []byte("own"))
	bt.AddGroup(0, &g, []byte("m1"))
	bt.Event(c, note{c, "ctl"})
	bt.AddGroup(0, &g, []byte("m2"))
	if bt.Len() != 1+3+1+3 {
		t.Fatalf("Len %d, want 8 (groups count their peers)", bt.Len())
	}
	bt.Flush()
	if len(ex.tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(ex.tasks))
	}
	ex.runAll()
	for _, tc := range []struct {
		name   string
		p      *fakePeer
		events []string
		writes int
	}{
		{"a", a, []string{"frame:m1", "frame:m2"}, 1},
		{"b", b, []string{"frame:own", "frame:m1", "frame:m2"}, 1},
		{"c", c, []string{"frame:m1", "ctl:ctl", "frame:m2"}, 2},
	} {
		if !reflect.DeepEqual(tc.p.events, tc.events) || len(tc.p.writes) != tc.writes {
			t.Errorf("%s: events %v in %d writes, want %v in %d", tc.name, tc.p.events, len(tc.p.writes), tc.events, tc.writes)
		}
	}
	if got := l.Deliveries.Load(); got != 8 {
		t.Fatalf("Deliveries %d, want 8 (7 frames, 1 event)", got)
	}
}

// Removing from a group after a broadcast was queued must not change who
// gets that broadcast (the loop reads the list later, on its own
// goroutine): the list handed out is copied, never overwritten.
func TestGroupCopiesOnWriteAfterHandOut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(g *Group, d *fakePeer)
		after  int // peers the second broadcast reaches
	}{
		{"remove first", func(g *Group, _ *fakePeer) { g.Remove(0) }, 2},
		{"remove last", func(g *Group, _ *fakePeer) { g.Remove(2) }, 2},
		{"add", func(g *Group, d *fakePeer) { g.Add(d) }, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ex manualExec
			l := NewLoop(0, ex.exec)
			ps := []*fakePeer{{loop: l}, {loop: l}, {loop: l}, {loop: l}}
			var g Group
			for _, p := range ps[:3] {
				g.Add(p)
			}
			bt := NewBatch([]*Loop{l})
			bt.AddGroup(0, &g, []byte("before"))
			bt.Flush()
			tc.change(&g, ps[3])
			bt.AddGroup(0, &g, []byte("after"))
			bt.Flush()
			ex.runAll()
			after := 0
			for i, p := range ps {
				before := 0
				for _, e := range p.events {
					switch e {
					case "frame:before":
						before++
					case "frame:after":
						after++
					}
				}
				if want := min(1, 3-i); before != want {
					t.Errorf("peer %d got the first broadcast %d times, want %d", i, before, want)
				}
			}
			if after != tc.after || g.Len() != tc.after {
				t.Fatalf("second broadcast reached %d, group len %d, want %d", after, g.Len(), tc.after)
			}
		})
	}
}

// slowPeer takes d to write, like a connection whose write(2) is slow on a
// loaded machine.
type slowPeer struct {
	fakePeer
	d time.Duration
}

func (p *slowPeer) Write(frames [][]byte) { time.Sleep(p.d); p.fakePeer.Write(frames) }

// The window widens while tasks are slow (busy loop), never past the
// ceiling, and falls back to the floor after the loop was idle; a fixed
// linger never moves.
func TestAdaptiveWindow(t *testing.T) {
	const floor, ceil = 5 * time.Millisecond, 40 * time.Millisecond
	for _, tc := range []struct {
		name       string
		ceil       time.Duration
		frames     int // frames the slow task writes to its peer
		wantLoaded func(time.Duration) bool
	}{
		{"adaptive", ceil, 3, func(w time.Duration) bool { return w > floor && w <= ceil }},
		{"fixed", 0, 3, func(w time.Duration) bool { return w == floor }},
		// One frame per write: a wider window would only add latency.
		{"adaptive, one frame per write", ceil, 1, func(w time.Duration) bool { return w == floor }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ex manualExec
			l := NewLoop(0, ex.exec)
			l.SetAdaptiveLinger(floor, tc.ceil)
			p := &slowPeer{fakePeer: fakePeer{loop: l}, d: 20 * time.Millisecond}
			p.fakePeer.loop = l
			bt := NewBatch([]*Loop{l})
			for range tc.frames {
				bt.Add(p, []byte("x"))
			}
			bt.Flush()
			ex.runAll() // idle loop: the task was queued at once
			if w := l.Window(); !tc.wantLoaded(w) {
				t.Fatalf("after a 20ms task writing %d frames the window is %v (floor %v, ceiling %v)", tc.frames, w, floor, tc.ceil)
			}
			time.Sleep(3 * ceil) // idle
			p.d = 0
			bt.Add(p, []byte("y"))
			bt.Flush()
			if len(ex.tasks) != 1 {
				t.Fatalf("after an idle gap a push queued %d tasks, want 1 at once", len(ex.tasks))
			}
			ex.runAll()
			if w := l.Window(); w != floor {
				t.Fatalf("after an idle gap and a quick task the window is %v, want the floor %v", w, floor)
			}
			if len(p.writes) != 2 {
				t.Fatalf("writes %v", p.writes)
			}
		})
	}
}

// A frame that does not fit in a bounded queue is dropped and its peer
// gets one Overflowed in its place, after the frames that did fit; events
// always fit.
func TestOverflowReplacesLostFrames(t *testing.T) {
	var ex manualExec
	l := NewLoop(0, ex.exec)
	l.SetMaxQueue(2)
	a := &fakePeer{loop: l}
	bt := NewBatch([]*Loop{l})
	for _, f := range []string{"1", "2", "3", "4"} {
		bt.Add(a, []byte(f))
	}
	bt.Event(a, note{a, "after"})
	bt.Flush()
	ex.runAll()
	want := []string{"frame:1", "frame:2", "overflow", "ctl:after"}
	if !reflect.DeepEqual(a.events, want) {
		t.Fatalf("events %v, want %v", a.events, want)
	}
	if got := l.Dropped.Load(); got != 2 {
		t.Fatalf("Dropped %d, want 2", got)
	}
}
