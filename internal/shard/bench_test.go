package shard

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
)

// countPeer is a Conn that counts what it is handed (frames, writes,
// events) and writes nothing. Its fields are touched only on its loop.
type countPeer struct {
	loop   *fanout.Loop
	slot   fanout.Slot
	frames int
	writes int
	events int
}

func (p *countPeer) Loop() *fanout.Loop             { return p.loop }
func (p *countPeer) Slot() *fanout.Slot             { return &p.slot }
func (p *countPeer) Write(frames [][]byte)          { p.frames += len(frames); p.writes++ }
func (p *countPeer) Overflowed()                    { p.events++ }
func (p *countPeer) Claimed(error)                  { p.events++ }
func (p *countPeer) Prepared(string, []byte, error) { p.events++ }
func (p *countPeer) Joined(string, int)             { p.events++ }
func (p *countPeer) NickSet(string, error)          { p.events++ }
func (p *countPeer) Renamed(string)                 { p.events++ }
func (p *countPeer) Moved(string)                   { p.events++ }
func (p *countPeer) Replaced()                      { p.events++ }
func (p *countPeer) Kicked(string)                  { p.events++ }
func (p *countPeer) Missed()                        {}

// fakeLoops returns n fanout loops. With async, each has its own goroutine
// that runs tasks in order (an event loop); otherwise a task runs at once on
// the pushing goroutine (the shard). After each task the loop signals ran,
// so a waiter can sleep instead of spinning. stop ends the goroutines.
func fakeLoops(n int, async bool) (loops []*fanout.Loop, ran chan struct{}, stop func()) {
	ran = make(chan struct{}, 1)
	signal := func() {
		select {
		case ran <- struct{}{}:
		default:
		}
	}
	var chans []chan func()
	for i := 0; i < n; i++ {
		if !async {
			loops = append(loops, fanout.NewLoop(i, func(fn func()) error { fn(); signal(); return nil }))
			continue
		}
		ch := make(chan func(), 1024)
		chans = append(chans, ch)
		go func() {
			for fn := range ch {
				fn()
				signal()
			}
		}()
		loops = append(loops, fanout.NewLoop(i, func(fn func()) error { ch <- fn; return nil }))
	}
	return loops, ran, func() {
		for _, ch := range chans {
			close(ch)
		}
	}
}

func delivered(loops []*fanout.Loop) uint64 {
	var n uint64
	for _, l := range loops {
		n += l.Deliveries.Load()
	}
	return n
}

// waitDelivered sleeps until the loops have handed want deliveries to
// their peers. A task signals ran after it has counted its deliveries, so
// the last one always wakes the waiter.
func waitDelivered(tb testing.TB, loops []*fanout.Loop, ran <-chan struct{}, want uint64) {
	for delivered(loops) < want {
		<-ran
	}
	if got := delivered(loops); got != want {
		tb.Fatalf("delivered %d, want %d", got, want)
	}
}

// fanoutRig is one shard with members peers in the global room.
type fanoutRig struct {
	g      *Group
	loops  []*fanout.Loop
	ran    chan struct{}
	peers  []*countPeer
	base   uint64 // deliveries done by the setup
	cancel func()
}

func newFanoutRig(tb testing.TB, members, nloops int, async bool, histSize int) *fanoutRig {
	loops, ran, stopLoops := fakeLoops(nloops, async)
	g := NewGroup(1, loops, Options{HistorySize: histSize, HistoryTTL: time.Minute, HistoryMaxBytes: 64 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	g.Start(ctx)
	r := &fanoutRig{g: g, loops: loops, ran: ran}
	var once sync.Once
	r.cancel = func() {
		once.Do(func() {
			cancel()
			g.Wait()
			stopLoops()
		})
	}
	s := g.Shard(0)
	for i := 0; i < members; i++ {
		p := &countPeer{loop: loops[i%nloops]}
		r.peers = append(r.peers, p)
		s.Join(p, command.GlobalRoom, Member{Nick: fmt.Sprintf("user%05d", i)})
	}
	// Member k (from 1) is announced to the k members present: n(n+1)/2
	// joined frames, plus one Joined event each.
	n := uint64(members)
	r.base = n*(n+1)/2 + n
	waitDelivered(tb, loops, ran, r.base)
	if got := s.Stats().Members.Load(); got != int64(members) {
		tb.Fatalf("%d members, want %d", got, members)
	}
	return r
}

// openFrame is what an event loop hands Publish: a fresh open message with
// room for the seq (one allocation, as on the server).
func openFrame(open []byte) []byte {
	return append(make([]byte, 0, len(open)+command.SealRoom), open...)
}

// BenchmarkShardFanout publishes framesPerOp chat frames from one member of
// a room per iteration and waits until every member got every frame, with
// history off (0) and on (100 per room). Each publish allocates its open
// frame, as the event loop does for every message.
func BenchmarkShardFanout(b *testing.B) {
	const framesPerOp = 10
	for _, members := range []int{100, 10000} {
		for _, mode := range []struct {
			name  string
			loops int
			async bool
		}{{"sync-1loop", 1, false}, {"async-2loops", 2, true}} {
			for _, hist := range []int{0, 100} {
				b.Run(fmt.Sprintf("members=%d/%s/history=%d", members, mode.name, hist), func(b *testing.B) {
					benchShardFanout(b, members, mode.loops, mode.async, hist, framesPerOp)
				})
			}
		}
	}
}

func benchShardFanout(b *testing.B, members, loops int, async bool, hist, framesPerOp int) {
	r := newFanoutRig(b, members, loops, async, hist)
	defer r.cancel()
	s := r.g.Shard(0)
	open := command.OpenMessage(nil, "user00000", command.GlobalRoom, "hello world, this is a chat message", 1700000000000)
	from := r.peers[0]
	want := r.base
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < framesPerOp; i++ {
			for !s.Publish(from, openFrame(open)) {
				runtime.Gosched()
			}
		}
		want += uint64(framesPerOp * members)
		waitDelivered(b, r.loops, r.ran, want)
	}
	b.StopTimer()
	perOp := float64(framesPerOp * members)
	b.ReportMetric(float64(want-r.base)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(perOp, "deliveries/op")
	r.cancel()
	// Every member got every frame, its own included.
	msgs := int(want-r.base) / members
	for i, p := range r.peers {
		if wantFrames := members - i + msgs; p.frames != wantFrames {
			b.Fatalf("peer %d got %d frames, want %d", i, p.frames, wantFrames)
		}
		if p.events != 1 {
			b.Fatalf("peer %d got %d events, want 1 (Joined)", i, p.events)
		}
	}
}

// The rig itself is checked by a test so that `go test` (without -bench)
// exercises the fan-out path too.
func TestShardFanoutDelivers(t *testing.T) {
	for _, async := range []bool{false, true} {
		r := newFanoutRig(t, 50, 2, async, 100)
		s := r.g.Shard(0)
		open := command.OpenMessage(nil, "user00003", command.GlobalRoom, "hi", 1)
		for i := 0; i < 7; i++ {
			if !s.Publish(r.peers[3], openFrame(open)) {
				t.Fatal("publish refused")
			}
		}
		waitDelivered(t, r.loops, r.ran, r.base+7*50)
		r.cancel()
		for i, p := range r.peers {
			if want := 50 - i + 7; p.frames != want || p.writes < 1 || p.writes > p.frames {
				t.Fatalf("async=%v peer %d: %d frames in %d writes, want %d frames", async, i, p.frames, p.writes, want)
			}
		}
	}
}

// BenchmarkRoomHandOff is the shard goroutine's own cost of one broadcast
// to a room of N members spread over 2 loops: queueing it for the loops and
// handing it over. The loops refuse the task (as a stopped loop does), so
// their queues are dropped at once and their work is not counted. It must
// not grow with N: one entry per loop, not one per member.
func BenchmarkRoomHandOff(b *testing.B) {
	gone := errors.New("loop stopped")
	for _, members := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			var loops []*fanout.Loop
			for i := 0; i < 2; i++ {
				loops = append(loops, fanout.NewLoop(i, func(func()) error { return gone }))
			}
			g := NewGroup(1, loops, Options{PresenceMax: 1})
			s := g.Shard(0)
			for i := 0; i < members; i++ {
				s.join(&countPeer{loop: loops[i%2]}, command.GlobalRoom, Member{Nick: fmt.Sprintf("user%05d", i)}, false)
			}
			s.flush()
			r := s.rooms[command.GlobalRoom]
			frame := command.SealMessage(openFrame(command.OpenMessage(nil, "user00000", command.GlobalRoom, "hello world, this is a chat message", 1700000000000)), 1)
			b.ReportAllocs()
			for b.Loop() {
				s.fanout(r, frame)
				s.flush()
			}
			b.ReportMetric(float64(members), "deliveries/op")
		})
	}
}
