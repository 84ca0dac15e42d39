package loadgen

import (
	"fmt"
	"slices"

	"github.com/ics-chat/ics/internal/command"
)

// marker names one generated message: its publisher and that publisher's
// sequence number (from the body, so it works with any server dialect).
type marker struct {
	pub int
	seq uint64
}

func (m marker) String() string { return fmt.Sprintf("publisher %d #%d", m.pub, m.seq) }

// RestartCheck is the drain invariant of a run the server restarted in
// the middle of (SIGTERM): every member of a room it closed with 1012 saw
// the same last message before the close, whatever its event loop.
type RestartCheck struct {
	Conns      int      `json:"conns"`      // connections closed with 1012
	Rooms      int      `json:"rooms"`      // rooms they were in
	Consistent int      `json:"consistent"` // rooms whose members all saw the same last message
	Mismatches []string `json:"mismatches,omitempty"`
}

// maxMismatches bounds the examples a report lists.
const maxMismatches = 5

// checkRestart groups the connections closed with 1012 by room and
// compares the last message each saw; nil when none was closed so.
func checkRestart(conns []*lgConn) *RestartCheck {
	last := map[int][]lastSeen{}
	n := 0
	for _, lc := range conns {
		if lc == nil || lc.room < 0 {
			continue
		}
		lc.sh.mu.Lock()
		code, m, ok := lc.closeCode, lc.last, lc.hasLast
		lc.sh.mu.Unlock()
		if code != command.CloseServiceRestart {
			continue
		}
		n++
		last[lc.room] = append(last[lc.room], lastSeen{nick: lc.nick, m: m, ok: ok})
	}
	if n == 0 {
		return nil
	}
	rc := &RestartCheck{Conns: n, Rooms: len(last)}
	rooms := make([]int, 0, len(last))
	for room := range last {
		rooms = append(rooms, room)
	}
	slices.Sort(rooms)
	for _, room := range rooms {
		if msg := mismatch(last[room]); msg == "" {
			rc.Consistent++
		} else if len(rc.Mismatches) < maxMismatches {
			rc.Mismatches = append(rc.Mismatches, fmt.Sprintf("room %d: %s", room, msg))
		}
	}
	return rc
}

// lastSeen is one member's last message before its 1012.
type lastSeen struct {
	nick string
	m    marker
	ok   bool // it saw any
}

// mismatch says how the members' last messages differ ("" when they agree).
func mismatch(ms []lastSeen) string {
	for _, x := range ms[1:] {
		if x.ok != ms[0].ok || x.m != ms[0].m {
			return fmt.Sprintf("%s last saw %s, %s last saw %s", ms[0].nick, ms[0].describe(), x.nick, x.describe())
		}
	}
	return ""
}

func (l lastSeen) describe() string {
	if !l.ok {
		return "no message"
	}
	return l.m.String()
}
