package wsio

import (
	"unicode/utf8"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
)

// maxQueued bounds the commands a connection may send while one of its
// operations is in flight (a room switch, a rename). The rate limit keeps
// honest clients far below it.
const maxQueued = 64

// onWS parses every complete frame in gnet's buffer, in place.
func (c *conn) onWS() {
	buf, _ := c.gc.Peek(-1)
	limit := c.srv.cfg.MaxFrameBytes
	used := 0
	for used < len(buf) && !c.closing && !c.closed {
		h, ok, fe := parseFrameHeader(buf[used:], limit)
		if fe != nil {
			c.protocolClose(fe.code, fe.reason)
			break
		}
		if !ok || len(buf)-used < h.size+h.length {
			break // wait for the rest
		}
		payload := buf[used+h.size : used+h.size+h.length]
		unmask(payload, h.mask)
		used += h.size + h.length
		c.onFrame(h, payload)
	}
	if c.pingSeen {
		c.pingSeen = false
		if !c.closed && !c.closing {
			c.queuePong()
		}
	}
	if c.closed {
		return
	}
	if c.closing {
		_, _ = c.gc.Discard(-1)
		return
	}
	switch {
	case used == len(buf):
		c.partialAt = 0
	case used > 0 || c.partialAt == 0:
		c.partialAt = c.lastRead // a new frame began in this read
	}
	if used > 0 {
		// Never Discard(0): gnet treats n <= 0 as "everything".
		_, _ = c.gc.Discard(used)
	}
}

func (c *conn) protocolClose(code int, reason string) {
	c.ls.stats.ProtocolCloses.Add(1)
	c.closeWith(code, reason)
}

func (c *conn) onFrame(h frameHeader, p []byte) {
	c.pingAt, c.lastFrame = 0, c.lastRead
	switch h.op {
	case command.OpPing:
		// Counted like a command; answered once per read, with the
		// payload of the read's last ping (RFC 6455 §5.5.3 allows
		// answering only the most recent one).
		if c.take() {
			c.pingSeen = true
			c.ls.pong = append(c.ls.pong[:0], p...)
		} else {
			c.reject()
		}
		return
	case command.OpPong:
		if !c.take() {
			c.reject()
		}
		return
	case command.OpClose:
		code := command.CloseNormal
		if len(p) == 1 {
			c.protocolClose(command.CloseProtocolError, "bad close payload")
			return
		}
		if len(p) >= 2 {
			code = int(p[0])<<8 | int(p[1])
			if !validCloseCode(code) || !utf8.Valid(p[2:]) {
				c.protocolClose(command.CloseProtocolError, "bad close code")
				return
			}
		}
		c.closeWith(code, "")
		return
	case command.OpBinary:
		if c.x == nil || !c.x.inFrag {
			c.protocolClose(command.CloseUnsupported, "binary frames are not supported")
			return
		}
		c.protocolClose(command.CloseProtocolError, "new message inside a fragmented one")
		return
	case command.OpText:
		if c.x != nil && c.x.inFrag {
			c.protocolClose(command.CloseProtocolError, "new message inside a fragmented one")
			return
		}
		if h.fin {
			c.onMessage(p)
			return
		}
		x := c.ext()
		x.inFrag = true
		x.frag = append(x.frag[:0], p...)
	case command.OpContinuation:
		if c.x == nil || !c.x.inFrag {
			c.protocolClose(command.CloseProtocolError, "continuation without a message")
			return
		}
		x := c.x
		if len(x.frag)+len(p) > c.srv.cfg.MaxFrameBytes {
			c.protocolClose(command.CloseTooBig, "message too big")
			return
		}
		x.frag = append(x.frag, p...)
		if h.fin {
			x.inFrag = false
			msg := x.frag
			x.frag = nil // do not pin the buffer on an idle connection
			c.onMessage(msg)
			c.settle()
		}
	}
}

// onMessage handles one complete text message: UTF-8 check, rate limit,
// then the command.
func (c *conn) onMessage(p []byte) {
	if !utf8.Valid(p) {
		c.protocolClose(command.CloseInvalidPayload, "invalid UTF-8")
		return
	}
	if !c.allow() {
		return
	}
	c.ls.stats.Commands.Add(1)
	if c.s.busy() {
		op := c.s.pend()
		if len(op.queue) >= maxQueued {
			c.sendError(command.ErrServerBusy, "too many commands in flight", nil)
			return
		}
		op.queue = append(op.queue, queued{cmd: append([]byte(nil), p...)})
		return
	}
	c.command(p)
}

// queuePong queues one pong (the read's last ping payload) for this loop's
// next fanout pass, so it goes out in the same write as the frames the
// connection is sent meanwhile instead of a write(2) of its own.
func (c *conn) queuePong() {
	c.ls.fan.Push([]fanout.Delivery{{To: c, Frame: command.AppendPong(nil, c.ls.pong)}})
}

// allow applies the per-connection token bucket; a refused command gets an
// error frame, and too many refusals in the window close the connection.
func (c *conn) allow() bool {
	if c.take() {
		return true
	}
	if c.reject() {
		c.sendError(command.ErrRateLimited, "too many commands: slow down", nil)
	}
	return false
}

// take takes one token from the connection's command bucket (commands and
// control frames share it).
func (c *conn) take() bool {
	cfg := &c.srv.cfg
	now := c.lastRead // set by OnTraffic for the read that carried this frame
	if c.refillAt != 0 {
		c.allowance += float64(now-c.refillAt) / 1e9 * cfg.CommandRate
		if burst := float64(cfg.CommandBurst); c.allowance > burst {
			c.allowance = burst
		}
	}
	c.refillAt = now
	if c.allowance >= 1 {
		c.allowance--
		return true
	}
	return false
}

// reject counts a refused frame; too many refusals within the abuse window
// close the connection with 4029. It reports whether the connection stays
// open.
func (c *conn) reject() bool {
	cfg := &c.srv.cfg
	now := c.lastRead
	c.ls.stats.RateLimited.Add(1)
	if now-c.rejectStart > int64(cfg.AbuseWindow) {
		c.rejectStart, c.rejects = now, 0
	}
	c.rejects++
	if int(c.rejects) >= cfg.AbuseRejects {
		c.ls.stats.RateCloses.Add(1)
		c.closeWith(command.CloseRateLimited, "rate limit exceeded")
		return false
	}
	return true
}

func (c *conn) sendError(code, msg string, id []byte) {
	c.writeNow(command.AppendError(nil, code, msg, id))
}
