package shard

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ics-chat/ics/internal/addrcount"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
)

// Options are the limits a Group enforces.
type Options struct {
	// InboxLimit is how many client ops a shard queues before it refuses
	// more (the op methods that return bool say false: server_busy).
	InboxLimit int
	// PresenceMax: rooms with more members announce joined/left only to
	// the member concerned (0 = always announce to the whole room).
	PresenceMax int
	// RoomsPushInterval is the least time between two `rooms` frames
	// pushed to the connections that watch the room list: a storm of room
	// creations costs each watcher at most one frame per interval
	// (DefaultRoomsPushInterval when 0).
	RoomsPushInterval time.Duration
	// ClaimTTL is how long a nickname claimed by /auth stays held when its
	// token is not used at /ws (default DefaultClaimTTL).
	ClaimTTL time.Duration
	// MaxClaimsPerAddr and MaxClaims bound unused claims per client
	// address and in total (0 = unbounded).
	MaxClaimsPerAddr int
	MaxClaims        int

	// History (history.go): frames kept per room (0 = none; seq still
	// counts), their maximum age, the bytes all shards together may hold,
	// and the largest history reply in bytes.
	HistorySize     int
	HistoryTTL      time.Duration
	HistoryMaxBytes int64
	HistoryReplyMax int
	// Bridge carries room events to other nodes (nil: a single node).
	Bridge Bridge
	// Directory lists the other nodes' rooms for the room-list push (nil:
	// a single node).
	Directory Directory
}

// DefaultRoomsPushInterval bounds how often watchers get a new room list.
const DefaultRoomsPushInterval = time.Second

// DefaultClaimTTL is the claim window when Options.ClaimTTL is 0.
const DefaultClaimTTL = time.Minute

// Group is the set of shards of one server.
type Group struct {
	shards    []*Shard
	loops     []*fanout.Loop
	opts      Options
	wg        sync.WaitGroup
	start     time.Time          // origin of the shards' history clocks
	epochBase string             // names this boot in every room epoch
	claims    *addrcount.Counter // unused /auth claims per client address and in total
	// roomList caches the last sorted listrooms answer (ListRooms).
	roomList atomic.Pointer[roomList]
	// otherRoomsVer counts changes of the other nodes' rooms (clustered).
	otherRoomsVer atomic.Uint64
}

// NewGroup creates n shards delivering to loops. Run starts them.
func NewGroup(n int, loops []*fanout.Loop, opts Options) *Group {
	if opts.RoomsPushInterval <= 0 {
		opts.RoomsPushInterval = DefaultRoomsPushInterval
	}
	if opts.InboxLimit <= 0 {
		opts.InboxLimit = 1 << 16
	}
	if opts.HistoryReplyMax <= 0 {
		opts.HistoryReplyMax = 1 << 20
	}
	start := time.Now()
	if opts.ClaimTTL <= 0 {
		opts.ClaimTTL = DefaultClaimTTL
	}
	g := &Group{loops: loops, opts: opts, start: start, epochBase: strconv.FormatInt(start.UnixNano(), 36)}
	g.claims = addrcount.New(opts.MaxClaims, opts.MaxClaimsPerAddr)
	for i := 0; i < n; i++ {
		s := newShard(g, i)
		s.hist.max = opts.HistoryMaxBytes / int64(n)
		g.shards = append(g.shards, s)
	}
	// global always exists.
	gs := g.shards[g.RoomShard(command.GlobalRoom)]
	gs.rooms[command.GlobalRoom] = gs.newRoom(command.GlobalRoom)
	gs.stats.Rooms.Store(1)
	return g
}

// Start runs every shard goroutine until ctx ends. Wait returns after they
// have all stopped.
func (g *Group) Start(ctx context.Context) {
	for _, s := range g.shards {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			s.run(ctx)
		}()
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.pushRooms(ctx)
	}()
}

// Wait blocks until every shard goroutine has returned.
func (g *Group) Wait() { g.wg.Wait() }

// Len is the number of shards.
func (g *Group) Len() int { return len(g.shards) }

// Shard returns shard i.
func (g *Group) Shard(i int) *Shard { return g.shards[i] }

// RoomShard is the index of the shard that owns room name.
func (g *Group) RoomShard(name string) int { return int(hash(name) % uint32(len(g.shards))) }

// NickShard is the index of the shard that owns nickname nick (in any case:
// names are compared case-insensitively).
func (g *Group) NickShard(nick string) int {
	// A different seed from rooms, so a busy room's shard is not also the
	// owner of every nickname that happens to share its hash.
	return int((hashFold(nick) ^ 0x9e3779b9) % uint32(len(g.shards)))
}

// hashFold is hash of the ASCII-lowercased s, without building it.
func hashFold(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// hash is FNV-1a, 32 bit.
func hash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// Shard is one room-and-nickname owner goroutine.
type Shard struct {
	idx   int
	g     *Group
	in    *inbox
	batch *fanout.Batch
	stats Stats
	hist  histState

	rooms   map[string]*room
	members map[fanout.Peer]*member
	nicks   map[string]*nickEntry // by NickKey
	revoked map[string]time.Time  // token id → expiry

	roomsVer atomic.Uint64 // bumped when the set of listed rooms changes

	claimExp   expiryHeap // unused claims by release time
	revokedExp expiryHeap // revocations by token expiry

	names []string
	fwd   []forward // ops for other shards, sent after the batch flush
}

type forward struct {
	to int
	o  op
}

// forward queues o for shard to, to be sent once this pass's frames have
// been pushed to the loops: anything the target produces then comes after
// them.
func (s *Shard) forward(to int, o op) { s.fwd = append(s.fwd, forward{to, o}) }

// flush pushes the pass's deliveries, then the forwarded ops.
func (s *Shard) flush() {
	s.batch.Flush()
	for i, f := range s.fwd {
		s.g.shards[f.to].in.put(f.o)
		s.fwd[i] = forward{}
	}
	s.fwd = s.fwd[:0]
}

func newShard(g *Group, idx int) *Shard {
	return &Shard{
		idx:     idx,
		g:       g,
		in:      newInbox(),
		batch:   fanout.NewBatch(g.loops),
		rooms:   map[string]*room{},
		members: map[fanout.Peer]*member{},
		nicks:   map[string]*nickEntry{},
		revoked: map[string]time.Time{},
	}
}

// Stats are the shard's counters (safe to read from any goroutine).
func (s *Shard) Stats() *Stats { return &s.stats }

// InboxDepth is the number of ops waiting now.
func (s *Shard) InboxDepth() int { return int(s.in.depth.Load()) }

// maxPassDeliveries bounds how many deliveries a pass accumulates before it
// flushes early, so one huge inbox does not delay the first frames.
const maxPassDeliveries = 1 << 16

func (s *Shard) run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var spare []op
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.in.wake:
		case <-tick.C:
			s.sweep(time.Now())
			s.tick()
			s.expire()
			s.flush()
			continue
		}
		for {
			q := s.in.take(spare)
			if len(q) == 0 {
				spare = q
				break
			}
			s.stats.observeDepth(len(q))
			s.tick()
			for i := range q {
				s.handle(&q[i])
				if s.batch.Len() >= maxPassDeliveries {
					s.flush()
				}
			}
			s.flush()
			clear(q)
			spare = q[:0]
		}
	}
}
