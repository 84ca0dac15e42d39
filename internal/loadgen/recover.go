package loadgen

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/ics-chat/ics/internal/command"
)

// This file is the churn run's recovery check (PROTOCOL.md "History and
// recovery"): a reconnecting churn client goes back to its room, asks
// `history` from the last seq it had seen (with that room's epoch) and the
// run fails if a reply that says complete:true leaves out any message.

// historyLimit is the page size churn clients ask for (the protocol's most).
const historyLimit = 100

// recovery is one churn worker's view of its room across reconnects: the
// epoch and the watermark (every seq up to it was seen). It is touched by
// one connection's reader at a time.
type recovery struct {
	epoch string
	mark  uint64 // all seqs <= mark seen
	known bool   // epoch and mark are set (a first connection sets them)

	seen    map[uint64]bool // seqs above mark seen on this connection
	asked   bool            // a history request is out
	since   uint64          // its since
	pending bool            // this connection still owes a check
}

// recoveryResult is what one history reply meant.
type recoveryResult struct {
	checked   bool   // a complete reply that covered the gap
	page      bool   // ask again from mark (the reply was cut by limit or size)
	recovered int    // messages the reply filled in
	missed    string // non-empty: a complete reply left these out (fail)
	partial   bool   // complete:false (history lost, not a failure)
}

// joined starts a connection in the room: it returns the history args to
// send, or "" when there is nothing to recover (first connection).
func (r *recovery) joined(epoch string, seq uint64) string {
	r.seen = map[uint64]bool{}
	r.asked, r.pending = false, false
	if !r.known || epoch == "" {
		r.epoch, r.mark, r.known = epoch, seq, epoch != ""
		return ""
	}
	r.asked, r.pending, r.since = true, true, r.mark
	return historyArgs(r.mark, r.epoch)
}

func historyArgs(since uint64, epoch string) string {
	e, _ := json.Marshal(epoch)
	b := appendCommandStart(nil, command.TypeHistory)
	return string(b) + `,"args":{"since":` + strconv.FormatUint(since, 10) + `,"epoch":` + string(e) + `,"limit":` + strconv.Itoa(historyLimit) + `}}`
}

// message records a live message.
func (r *recovery) message(seq uint64) {
	if !r.known {
		return
	}
	r.seen[seq] = true
	r.advance()
}

func (r *recovery) advance() {
	for r.seen[r.mark+1] {
		delete(r.seen, r.mark+1)
		r.mark++
	}
}

// history checks a reply to the request joined (or a page) sent.
func (r *recovery) history(epoch string, seq uint64, complete bool, msgs []uint64) recoveryResult {
	var res recoveryResult
	if !r.asked {
		return res
	}
	r.asked = false
	since := r.since
	if !complete {
		// History was lost (evicted, or the room's line changed): the
		// client starts over from what it got.
		res.partial, r.pending = true, false
		r.epoch = epoch
		r.mark = seq
		if len(msgs) > 0 {
			r.mark = msgs[0] - 1
		}
		r.seen = map[uint64]bool{}
		for _, q := range msgs {
			r.seen[q] = true
		}
		r.advance()
		return res
	}
	if epoch != r.epoch {
		res.missed = fmt.Sprintf("complete:true for epoch %q after %q", epoch, r.epoch)
		return res
	}
	for i, q := range msgs {
		if q != since+1+uint64(i) {
			res.missed = fmt.Sprintf("complete:true since %d but got seqs %v (want %d at position %d)", since, msgs, since+1+uint64(i), i)
			return res
		}
		if q > r.mark && !r.seen[q] {
			res.recovered++
		}
		r.seen[q] = true
	}
	r.advance()
	switch {
	case r.mark >= seq:
		res.checked, r.pending = true, false
	case len(msgs) > 0:
		res.page, r.asked, r.since = true, true, r.mark
	default:
		res.missed = fmt.Sprintf("complete:true since %d with no messages, but the room is at seq %d", since, seq)
	}
	return res
}

// churnFrame is the part of a server frame the recovery check reads.
type churnFrame struct {
	Type     string  `json:"type"`
	Room     string  `json:"room"`
	Nickname string  `json:"nickname"`
	Seq      *uint64 `json:"seq"`
	Epoch    string  `json:"epoch"`
	Complete bool    `json:"complete"`
	Messages []struct {
		Seq uint64 `json:"seq"`
	} `json:"messages"`
}

// recoverConn reads one churn connection's frames and runs the recovery
// check on them; done is closed when the connection owes no check (or it
// ended).
type recoverConn struct {
	conn  net.Conn
	nick  string
	room  string
	rec   *recovery
	st    *ChurnStats
	done  chan struct{}
	ended chan struct{} // closed when read returns: rec is free again
	once  sync.Once
	frame churnFrame
}

func (c *recoverConn) finish() { c.once.Do(func() { close(c.done) }) }

// read runs until the connection ends.
func (c *recoverConn) read() {
	defer close(c.ended)
	defer c.finish()
	var fr frameReader
	buf := make([]byte, 64<<10)
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := c.conn.Read(buf[n:])
		n += m
		used, ferr := fr.feed(buf[:n], c)
		copy(buf, buf[used:n])
		n -= used
		if err != nil || ferr != nil {
			return
		}
	}
}

func (c *recoverConn) onControl(byte, []byte) {}

func (c *recoverConn) onMessage(p []byte) {
	f := &c.frame
	*f = churnFrame{}
	if json.Unmarshal(p, f) != nil || f.Room != c.room {
		return
	}
	switch f.Type {
	case command.FrameJoined:
		if f.Nickname != c.nick {
			return
		}
		if f.Seq == nil || f.Epoch == "" {
			c.st.unsupported.Add(1) // a server without history (v1.0)
			c.finish()
			return
		}
		if req := c.rec.joined(f.Epoch, *f.Seq); req != "" {
			_, _ = c.conn.Write(appendFrame(nil, command.OpText, []byte(req)))
		} else {
			c.finish()
		}
	case command.FrameMessage:
		if f.Seq != nil {
			c.rec.message(*f.Seq)
		}
	case command.FrameHistory:
		if f.Seq == nil {
			return
		}
		seqs := make([]uint64, len(f.Messages))
		for i, m := range f.Messages {
			seqs[i] = m.Seq
		}
		res := c.rec.history(f.Epoch, *f.Seq, f.Complete, seqs)
		c.st.recovered.Add(int64(res.recovered))
		switch {
		case res.missed != "":
			c.st.missed.Add(1)
			c.st.fail(fmt.Errorf("recovery %s: %s", c.nick, res.missed))
			c.finish()
		case res.page:
			_, _ = c.conn.Write(appendFrame(nil, command.OpText, []byte(historyArgs(c.rec.since, c.rec.epoch))))
		case res.partial:
			c.st.partial.Add(1)
			c.finish()
		case res.checked:
			c.st.checks.Add(1)
			c.finish()
		}
	}
}
