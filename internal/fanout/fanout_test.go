package fanout

import (
	"reflect"
	"testing"
)

type fakePeer struct {
	loop   *Loop
	slot   Slot
	writes [][]string // frames of each Write call
	events []string   // writes and controls, in order
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
func (p *fakePeer) Control(c any) { p.events = append(p.events, "ctl:"+c.(string)) }

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

func TestControlKeepsOrderWithFrames(t *testing.T) {
	var ex manualExec
	l := NewLoop(0, ex.exec)
	a := &fakePeer{loop: l}
	bt := NewBatch([]*Loop{l})
	bt.Add(a, []byte("1"))
	bt.Add(a, []byte("2"))
	bt.Control(a, "joined")
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
