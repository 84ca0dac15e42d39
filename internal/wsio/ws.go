package wsio

import (
	"time"
	"unicode/utf8"

	"github.com/ics-chat/ics/internal/command"
)

// maxQueued bounds the commands a connection may send while one of its
// operations is in flight (a room switch, a rename). The rate limit keeps
// honest clients far below it.
const maxQueued = 64

// onWS parses every complete frame in gnet's buffer, in place.
func (c *conn) onWS() {
	buf, _ := c.gc.Peek(-1)
	max := c.srv.cfg.MaxFrameBytes
	used := 0
	for used < len(buf) && !c.closing && !c.closed {
		h, ok, fe := parseFrameHeader(buf[used:], max)
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
	if c.closed {
		return
	}
	if c.closing {
		_, _ = c.gc.Discard(-1)
		return
	}
	if used > 0 {
		// gnet's Discard(0) discards everything buffered: never call it
		// with 0, or a partly received frame is lost.
		_, _ = c.gc.Discard(used)
	}
}

func (c *conn) protocolClose(code int, reason string) {
	c.ls.stats.ProtocolCloses.Add(1)
	c.closeWith(code, reason)
}

func (c *conn) onFrame(h frameHeader, p []byte) {
	c.pingAt = 0
	switch h.op {
	case opPing:
		c.writeNow(command.AppendPong(nil, p))
		return
	case opPong:
		return
	case opClose:
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
	case opBinary:
		if !c.inFrag {
			c.protocolClose(command.CloseUnsupported, "binary frames are not supported")
			return
		}
		c.protocolClose(command.CloseProtocolError, "new message inside a fragmented one")
		return
	case opText:
		if c.inFrag {
			c.protocolClose(command.CloseProtocolError, "new message inside a fragmented one")
			return
		}
		if h.fin {
			c.onMessage(p)
			return
		}
		c.inFrag = true
		c.frag = append(c.frag[:0], p...)
	case opContinuation:
		if !c.inFrag {
			c.protocolClose(command.CloseProtocolError, "continuation without a message")
			return
		}
		if len(c.frag)+len(p) > c.srv.cfg.MaxFrameBytes {
			c.protocolClose(command.CloseTooBig, "message too big")
			return
		}
		c.frag = append(c.frag, p...)
		if h.fin {
			c.inFrag = false
			c.onMessage(c.frag)
			if cap(c.frag) > 4096 {
				c.frag = nil // do not pin a large buffer on an idle connection
			} else {
				c.frag = c.frag[:0]
			}
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
	if c.pend != pendNone {
		if len(c.queue) >= maxQueued {
			c.sendError(command.ErrServerBusy, "too many commands in flight", nil)
			return
		}
		c.queue = append(c.queue, append([]byte(nil), p...))
		return
	}
	c.command(p)
}

// allow applies the per-connection token bucket; a refused command gets an
// error frame, and too many refusals in the window close the connection.
func (c *conn) allow() bool {
	cfg := &c.srv.cfg
	now := time.Now().UnixNano()
	if c.refillAt != 0 {
		c.tokensLeft += float64(now-c.refillAt) / 1e9 * cfg.CommandRate
		if burst := float64(cfg.CommandBurst); c.tokensLeft > burst {
			c.tokensLeft = burst
		}
	}
	c.refillAt = now
	if c.tokensLeft >= 1 {
		c.tokensLeft--
		return true
	}
	c.ls.stats.RateLimited.Add(1)
	if now-c.rejectStart > int64(cfg.AbuseWindow) {
		c.rejectStart, c.rejects = now, 0
	}
	c.rejects++
	if c.rejects >= cfg.AbuseRejects {
		c.ls.stats.RateCloses.Add(1)
		c.closeWith(command.CloseRateLimited, "rate limit exceeded")
		return false
	}
	c.sendError(command.ErrRateLimited, "too many commands: slow down", nil)
	return false
}

func (c *conn) sendError(code, msg string, id []byte) {
	c.writeNow(command.AppendError(nil, code, msg, id))
}
