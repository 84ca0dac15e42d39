package loadgen

import (
	"strings"
	"testing"

	"github.com/ics-chat/ics/internal/command"
)

func TestCheckRestart(t *testing.T) {
	conn := func(room, code int, m *marker) *lgConn {
		lc := &lgConn{room: room, nick: "n", closeCode: code, sh: &shard{}}
		if m != nil {
			lc.last, lc.hasLast = *m, true
		}
		return lc
	}
	a, b := &marker{pub: 1, seq: 10}, &marker{pub: 2, seq: 7}
	restart := command.CloseServiceRestart
	tests := []struct {
		name             string
		conns            []*lgConn
		rooms, agree     int
		nilCheck         bool
		mismatchContains string
	}{
		{"none closed with 1012", []*lgConn{conn(0, command.CloseSlowConsumer, a), nil}, 0, 0, true, ""},
		{"same last message", []*lgConn{conn(0, restart, a), conn(0, restart, a), conn(1, restart, b)}, 2, 2, false, ""},
		{"different last message", []*lgConn{conn(0, restart, a), conn(0, restart, b)}, 1, 0, false, "publisher 2 #7"},
		{"one saw nothing", []*lgConn{conn(0, restart, a), conn(0, restart, nil)}, 1, 0, false, "no message"},
		{"other codes left out", []*lgConn{conn(0, restart, a), conn(0, command.CloseKicked, b)}, 1, 1, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := checkRestart(tt.conns)
			if tt.nilCheck {
				if rc != nil {
					t.Fatalf("got %+v, want nil", rc)
				}
				return
			}
			if rc.Rooms != tt.rooms || rc.Consistent != tt.agree {
				t.Fatalf("got %+v, want %d rooms, %d consistent", rc, tt.rooms, tt.agree)
			}
			if tt.mismatchContains != "" && (len(rc.Mismatches) != 1 || !strings.Contains(rc.Mismatches[0], tt.mismatchContains)) {
				t.Fatalf("mismatches %v, want one naming %q", rc.Mismatches, tt.mismatchContains)
			}
		})
	}
}
