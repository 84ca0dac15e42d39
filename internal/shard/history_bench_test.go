package shard

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// BenchmarkRoomMemory reports the heap one room costs its shard: empty, and
// after `msgs` messages with a 100-byte body (history on keeps up to 100 of
// them; off keeps none but still numbers them). Measured over 2,000 rooms.
func BenchmarkRoomMemory(b *testing.B) {
	const rooms = 2000
	body := make([]byte, 100)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	for _, tc := range []struct {
		hist, msgs int
	}{{100, 0}, {0, 100}, {100, 10}, {100, 100}, {100, 1000}} {
		b.Run(fmt.Sprintf("history=%d/msgs=%d", tc.hist, tc.msgs), func(b *testing.B) {
			var perRoom, perKept float64
			for b.Loop() {
				loops, _, stop := fakeLoops(1, false)
				g := NewGroup(1, loops, Options{HistorySize: tc.hist, HistoryTTL: time.Hour, HistoryMaxBytes: 1 << 40})
				s := g.Shard(0)
				s.tick()
				open := command.OpenMessage(nil, "user00000", "room_00000", body, 1700000000000)
				before := heapInUse()
				for i := 0; i < rooms; i++ {
					name := fmt.Sprintf("room_%05d", i)
					r := s.newRoom(name)
					s.rooms[name] = r
					for k := 0; k < tc.msgs; k++ {
						r.seq++
						s.post(r, command.SealMessage(openFrame(open), r.seq))
					}
				}
				after := heapInUse()
				perRoom = float64(after-before) / rooms
				if kept := s.hist.bytes; kept > 0 {
					perKept = float64(kept) / rooms
				}
				runtime.KeepAlive(s)
				stop()
			}
			b.ReportMetric(perRoom, "heap-B/room")
			b.ReportMetric(perKept, "counted-B/room")
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkPost is the shard's cost per message besides the fan-out itself:
// numbering, and with history on keeping the frame (ring push, the oldest
// dropped once the room is full, byte accounting). The room has no members.
func BenchmarkPost(b *testing.B) {
	for _, hist := range []int{0, 100} {
		b.Run(fmt.Sprintf("history=%d", hist), func(b *testing.B) {
			loops, _, stop := fakeLoops(1, false)
			defer stop()
			g := NewGroup(1, loops, Options{HistorySize: hist, HistoryTTL: time.Hour, HistoryMaxBytes: 64 << 20})
			s := g.Shard(0)
			s.tick()
			r := s.rooms[command.GlobalRoom]
			open := command.OpenMessage(nil, "user00000", command.GlobalRoom, "hello world, this is a chat message", 1700000000000)
			frame := command.SealMessage(openFrame(open), 1)
			b.ReportAllocs()
			for b.Loop() {
				r.seq++
				s.post(r, frame)
			}
		})
	}
}
