package shard

import (
	"container/heap"
	"strconv"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// This file is history and recovery (PROTOCOL.md v1.1): each room numbers
// its messages (seq) and keeps its recent frames, exactly as they were
// broadcast, so a reconnecting client can ask for what it missed. The room's
// shard owns the numbering and the buffer like every other piece of room
// state; nothing here is shared with another goroutine.
//
// Bounds, all enforced by the shard:
//   - each room keeps at most Options.HistorySize frames (its oldest go first);
//   - a frame older than Options.HistoryTTL is dropped (by the once-a-second
//     sweep, and before answering a history command);
//   - the shard keeps at most Options.HistoryMaxBytes / shards bytes: past
//     it the shard's oldest frame goes, whichever room holds it.
//
// Finding the shard's oldest frame uses a min-heap of rooms keyed by the time
// of their oldest frame. Keys are updated lazily: dropping a room's oldest
// frame only makes its true key larger, so a key may be stale (smaller than
// the truth) but never too large; whoever looks at the top re-keys it when
// stale. Publishing therefore never touches the heap except when a room's
// buffer goes from empty to non-empty.

// history is one room's buffer: a ring of frames whose seqs are consecutive
// and end at the room's seq.
type history struct {
	ring  []histEntry // grows (doubling) up to HistorySize
	head  int         // index of the oldest entry
	n     int         // entries held
	bytes int64       // sum of the entries' sizes
}

type histEntry struct {
	frame []byte
	at    int64 // shard clock (monotonic nanoseconds) when stored
}

func (h *history) at(i int) *histEntry { return &h.ring[(h.head+i)%len(h.ring)] }

// push appends e, growing the ring up to limit entries; the caller has made
// room when n == limit.
func (h *history) push(e histEntry, limit int) {
	if h.n == len(h.ring) {
		grown := make([]histEntry, min(limit, max(4, 2*len(h.ring))))
		for i := 0; i < h.n; i++ {
			grown[i] = *h.at(i)
		}
		h.ring, h.head = grown, 0
	}
	*h.at(h.n) = e
	h.n++
}

// pop removes the oldest entry and returns its size.
func (h *history) pop() int64 {
	e := &h.ring[h.head]
	sz := entrySize(e.frame)
	*e = histEntry{}
	h.head = (h.head + 1) % len(h.ring)
	h.n--
	h.bytes -= sz
	return sz
}

// entrySize is what a stored frame costs: its allocation (the loop reserves
// command.SealRoom spare bytes) plus the ring slot.
func entrySize(f []byte) int64 { return int64(cap(f)) + histEntryBytes }

const histEntryBytes = 32 // unsafe.Sizeof(histEntry{})

// histState is one shard's history bookkeeping.
type histState struct {
	bytes  int64    // bytes held by all of the shard's rooms
	max    int64    // the shard's share of Options.HistoryMaxBytes
	oldest roomHeap // rooms with frames (or stale: emptied since)
	clock  int64    // monotonic nanoseconds at the start of this pass
	epochs uint64   // rooms created, for epoch names
	frames [][]byte // scratch for one history reply
}

// newRoom makes a room with a fresh epoch: a recreated room never shares an
// epoch with an earlier room of the same name (on this or any other boot).
func (s *Shard) newRoom(name string) *room {
	e := s.newEpoch()
	return &room{name: name, epoch: e, stream: e, hidx: -1}
}

// newEpoch names a new history line: this boot, this shard, a counter.
func (s *Shard) newEpoch() string {
	s.hist.epochs++
	return s.g.epochBase + "-" + strconv.Itoa(s.idx) + "-" + strconv.FormatUint(s.hist.epochs, 36)
}

// breakLine starts a new history line for r, which stays (global, or a
// room a switch has pinned) although this node stopped hearing the other
// nodes' messages in it: its old line now has a gap nobody could see, so
// a client asking with the old epoch gets complete:false. The kept frames
// belong to the old line and go; seq keeps counting.
func (s *Shard) breakLine(r *room) {
	r.epoch = s.newEpoch()
	s.dropHistory(r)
}

// tick reads the shard clock once per pass: frames stored in one pass share
// a timestamp, which is precise enough for a TTL of minutes.
func (s *Shard) tick() {
	if s.g.opts.HistorySize > 0 {
		s.hist.clock = int64(time.Now().Sub(s.g.start))
	}
}

// post fans frame (a message already sealed with r's seq) out to r and
// keeps it in r's history.
func (s *Shard) post(r *room, frame []byte) {
	s.fanout(r, frame)
	limit := s.g.opts.HistorySize
	if limit <= 0 {
		return
	}
	h := &r.hist
	if h.n >= limit {
		s.hist.bytes -= h.pop()
		s.stats.HistoryEvictSize.Add(1)
	}
	e := histEntry{frame: frame, at: s.hist.clock}
	h.push(e, limit)
	sz := entrySize(frame)
	h.bytes += sz
	s.hist.bytes += sz
	if r.hidx < 0 {
		r.hkey = e.at
		heap.Push(&s.hist.oldest, r)
	}
	for s.hist.bytes > s.hist.max && s.evictOldest() {
		s.stats.HistoryEvictBytes.Add(1)
	}
	s.stats.HistoryBytes.Store(s.hist.bytes)
}

// top returns the room holding the shard's oldest frame, re-keying stale
// heap entries and dropping emptied rooms on the way; nil when none.
func (s *Shard) top() *room {
	o := &s.hist.oldest
	for o.Len() > 0 {
		r := (*o)[0]
		switch {
		case r.hist.n == 0:
			heap.Pop(o)
		case r.hist.at(0).at != r.hkey:
			r.hkey = r.hist.at(0).at
			heap.Fix(o, 0)
		default:
			return r
		}
	}
	return nil
}

// evictOldest drops the shard's oldest frame; false when it holds none.
func (s *Shard) evictOldest() bool {
	r := s.top()
	if r == nil {
		return false
	}
	s.hist.bytes -= r.hist.pop()
	return true
}

// expire drops every frame stored at or before cutoff, oldest rooms first.
func (s *Shard) expire() {
	if s.g.opts.HistorySize <= 0 {
		return
	}
	cutoff := s.hist.clock - int64(s.g.opts.HistoryTTL)
	for r := s.top(); r != nil && r.hkey <= cutoff; r = s.top() {
		s.expireRoom(r, cutoff)
	}
	s.stats.HistoryBytes.Store(s.hist.bytes)
}

func (s *Shard) expireRoom(r *room, cutoff int64) {
	for r.hist.n > 0 && r.hist.at(0).at <= cutoff {
		s.hist.bytes -= r.hist.pop()
		s.stats.HistoryEvictAge.Add(1)
	}
}

// dropHistory forgets a room's frames (deleted, or its line broken).
func (s *Shard) dropHistory(r *room) {
	if r.hidx >= 0 {
		heap.Remove(&s.hist.oldest, r.hidx)
	}
	s.hist.bytes -= r.hist.bytes
	r.hist = history{}
	s.stats.HistoryBytes.Store(s.hist.bytes)
}

// historyQuery is one history command.
type historyQuery struct {
	since    uint64
	hasSince bool
	epoch    string
	hasEpoch bool
	limit    int
}

// answerHistory replies to p with the messages of its room after q.since
// (or the latest q.limit), as PROTOCOL.md "History and recovery" says.
func (s *Shard) answerHistory(p Conn, q *historyQuery, id []byte) {
	m := s.members[p]
	if m == nil {
		return
	}
	r := m.room
	if s.g.opts.HistorySize > 0 {
		s.expireRoom(r, s.hist.clock-int64(s.g.opts.HistoryTTL))
		s.stats.HistoryBytes.Store(s.hist.bytes)
	}
	h := &r.hist
	last := r.seq
	lo := last - uint64(h.n) + 1 // oldest seq held (last+1 when none)
	limit := uint64(q.limit)
	epochOK := !q.hasEpoch || q.epoch == r.epoch
	var from, to uint64 // seqs to send, inclusive (from > to: none)
	var complete bool
	budget := s.g.opts.HistoryReplyMax
	if q.hasSince && epochOK && q.since <= last {
		// Recovery: everything after since, oldest first, up to limit
		// and the reply budget; complete unless something is gone.
		from, complete = max(q.since+1, lo), q.since+1 >= lo
		to = from - 1
		for n := 0; to < last && to-from+1 < limit; to++ {
			if n += len(h.at(int(to + 1 - lo)).frame); n > budget && to >= from {
				break
			}
		}
	} else {
		// The latest limit messages. complete says the buffer still
		// holds the room's whole line (nothing dropped since seq 1);
		// it is false for a since or an epoch from another line.
		to, complete = last, lo == 1 && !q.hasSince && epochOK
		from = to + 1
		for n := 0; from > lo && to-from+1 < limit; from-- {
			if n += len(h.at(int(from - 1 - lo)).frame); n > budget && from <= to {
				break
			}
		}
	}
	if s.g.opts.HistorySize <= 0 {
		complete = false
	}
	frames := s.hist.frames[:0]
	size := 0
	for q := from; q <= to; q++ {
		f := h.at(int(q - lo)).frame
		frames = append(frames, f)
		size += len(f)
	}
	reply := command.AppendHistory(make([]byte, 0, size+len(r.name)+len(r.epoch)+len(id)+160), r.name, r.epoch, last, frames, complete, id)
	clear(frames)
	s.hist.frames = frames[:0]
	s.batch.Add(p, reply)
}

// roomHeap is a min-heap of rooms by hkey (container/heap).
type roomHeap []*room

func (o roomHeap) Len() int           { return len(o) }
func (o roomHeap) Less(i, j int) bool { return o[i].hkey < o[j].hkey }
func (o roomHeap) Swap(i, j int) {
	o[i], o[j] = o[j], o[i]
	o[i].hidx, o[j].hidx = i, j
}
func (o *roomHeap) Push(x any) {
	r := x.(*room)
	r.hidx = len(*o)
	*o = append(*o, r)
}
func (o *roomHeap) Pop() any {
	old := *o
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*o = old[:len(old)-1]
	r.hidx = -1
	return r
}
