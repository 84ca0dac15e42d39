package wsio

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/panjf2000/gnet/v2"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
	"github.com/ics-chat/ics/internal/shard"
)

// conn is one client connection: its socket and I/O state. Its protocol
// state (who it is, where it is, what it waits for) is its session (s).
// Every field is owned by its event loop, except backlog, which the admin
// API may read. It is kept small (an idle server holds one per client):
// state that only exists during a handshake or a fragmented message lives
// in *extra, allocated while needed.
type conn struct {
	gc  gnet.Conn
	ls  *loop
	srv *Server
	x   *extra
	s   session
	// ws: the 101 went out; the socket carries WebSocket frames.
	ws bool
	// closed: OnClose ran; never write again (the fd may be reused).
	closed bool
	// closing: a close frame was sent or the socket close was requested.
	closing   bool
	abort     bool   // reset (not FIN) when the close grace ends: a slow consumer
	counted   bool   // counted in Server.wsConns
	httpBusy  bool   // a plain HTTP request is being served off-loop
	httpPause bool   // its responses are not being read: pipelined requests wait
	pingSeen  bool   // the current read carried a ping: one pong is due
	httpReqs  uint16 // plain HTTP requests read on this socket
	pos       int32  // index in loop.conns
	rejects   int32

	since    int64 // unix nanos of accept
	deadline int64 // unix nanos: end of the handshake/idle HTTP allowance
	lastRead int64 // unix nanos of the last byte read
	// lastFrame is when the last complete frame arrived: only complete
	// frames prove the client alive (a trickled frame must not).
	lastFrame int64
	// partialAt is when the frame now half in the buffer began arriving
	// (0: none); it must complete within FrameTimeout.
	partialAt int64
	pingAt    int64 // unix nanos of the unanswered ping, 0 when none

	// allowance is the command rate limit's bucket: how many commands
	// (and control frames) the connection may send now (ws.go, take).
	allowance   float64
	refillAt    int64
	rejectStart int64

	slot    fanout.Slot
	backlog atomic.Int64
}

// extra is the part of a connection's I/O state that is only needed for a
// while.
type extra struct {
	upgradeResp []byte // 101 response held until the nickname is claimed

	inFrag bool
	frag   []byte
}

// ext returns the connection's extra state, allocating it on first use.
func (c *conn) ext() *extra {
	if c.x == nil {
		c.x = &extra{}
	}
	return c.x
}

// settle drops the extra state once nothing in it is needed any more.
func (c *conn) settle() {
	x := c.x
	if x != nil && !x.inFrag && x.upgradeResp == nil {
		c.x = nil
	}
	c.s.settle()
}

// remote is the peer's address (from gnet, not stored per connection).
func (c *conn) remote() string {
	if a := c.gc.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

var _ shard.Conn = (*conn)(nil)

// Loop implements fanout.Peer.
func (c *conn) Loop() *fanout.Loop { return c.ls.fan }

// Slot implements fanout.Peer.
func (c *conn) Slot() *fanout.Slot { return &c.slot }

// maxIovec is IOV_MAX on Linux: writev fails with more.
const maxIovec = 1024

// maxCoalesce is the largest batch copied into one buffer for a single
// write; larger batches go out with writev.
const maxCoalesce = 64 << 10

// Write implements fanout.Peer: everything the batch had for this
// connection, with one write call (more only past IOV_MAX frames).
func (c *conn) Write(frames [][]byte) {
	if c.closed || c.closing || len(frames) == 0 {
		return
	}
	st := &c.ls.stats
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	if b := c.gc.OutboundBuffered(); b > 0 && b+n > c.srv.cfg.MaxBacklogBytes {
		// Already behind, and this write would take it past the limit:
		// close before queueing it rather than after.
		c.backlog.Store(int64(b))
		c.slowClose()
		return
	}
	switch {
	case len(frames) == 1:
		_, _ = c.gc.Write(frames[0])
		st.Writes.Add(1)
	case n <= maxCoalesce:
		// Copying small frames into one buffer is cheaper than building
		// an iovec per frame; gnet copies whatever the kernel does not
		// take, so the loop's scratch buffer is free again right after.
		buf := c.ls.wbuf[:0]
		for _, f := range frames {
			buf = append(buf, f...)
		}
		c.ls.wbuf = buf[:0]
		_, _ = c.gc.Write(buf)
		st.Writes.Add(1)
	default:
		for i := 0; i < len(frames) && !c.closed; i += maxIovec {
			j := min(i+maxIovec, len(frames))
			_, _ = c.gc.Writev(frames[i:j])
			st.Writes.Add(1)
		}
	}
	st.Frames.Add(uint64(len(frames)))
	st.BytesOut.Add(uint64(n))
	if !c.closed {
		c.checkBacklog()
	}
}

// checkBacklog closes the connection with 4008 when what the kernel would
// not take is over the limit. It is checked after the write, so a large batch
// to a fast reader is fine; only bytes the peer is not reading count.
func (c *conn) checkBacklog() {
	b := c.gc.OutboundBuffered()
	c.backlog.Store(int64(b))
	if b > c.srv.cfg.MaxBacklogBytes {
		c.slowClose()
	}
}

// slowClose closes a connection that does not read what it is sent.
func (c *conn) slowClose() {
	c.ls.stats.SlowCloses.Add(1)
	c.closeWith(command.CloseSlowConsumer, "slow consumer")
}

// writeNow writes one frame produced on the loop itself (pong, error reply).
func (c *conn) writeNow(frame []byte) { c.Write([][]byte{frame}) }

// closeGrace is how long a connection that was sent a close frame stays
// open for the client to read it: closing the socket at once would make the
// kernel answer the client's next bytes with a reset, which can destroy the
// close frame before the client reads it. The client normally closes first
// (RFC 6455 §7.1.1); the sweep closes whoever did not.
const closeGrace = 2 * time.Second

// closeWith sends a close frame, gives back the room and the nickname at
// once, half-closes the socket when nothing is left to write, and lets the
// sweep close it after closeGrace if the client does not.
func (c *conn) closeWith(code int, reason string) {
	if c.closed || c.closing {
		return
	}
	c.closing = true
	if !c.ws {
		_ = c.gc.Close()
		return
	}
	_, _ = c.gc.Write(command.AppendClose(nil, code, reason))
	if c.closed {
		return // the write failed and gnet closed the socket
	}
	c.cleanup()
	grace := closeGrace
	if code == command.CloseSlowConsumer {
		// Its close frame sits behind the backlog: give a slow (not dead)
		// reader as long to reach it as a missing pong would get.
		grace = max(grace, c.srv.cfg.PongTimeout)
		c.abort = true
	}
	c.deadline = time.Now().Add(grace).UnixNano()
	if c.gc.OutboundBuffered() == 0 {
		// Everything including the close frame is in the kernel: FIN
		// after it, so the client reads the frame, then EOF.
		_ = unix.Shutdown(c.gc.Fd(), unix.SHUT_WR)
	}
}

// drop closes the socket without a close frame (handshake failures).
func (c *conn) drop() {
	if c.closed || c.closing {
		return
	}
	c.closing = true
	_ = c.gc.Close()
}
