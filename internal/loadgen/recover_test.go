package loadgen

import (
	"strings"
	"testing"
)

// The recovery check must pass what the protocol promises and catch a
// complete:true reply that leaves a message out; the wire side of it runs
// in the churn smoke test against a real ICS server.
func TestRecoveryCheck(t *testing.T) {
	type reply struct {
		epoch    string
		seq      uint64
		complete bool
		msgs     []uint64
	}
	tests := []struct {
		name       string
		live       []uint64 // seen on the first connection after joining at seq 10
		rejoin     uint64   // seq in the second joined
		live2      []uint64 // live on the second connection before the reply
		replies    []reply
		wantMissed string // substring; "" = no failure
		checked    bool
		partial    bool
		recovered  int
		mark       uint64
	}{
		{name: "gap filled", live: []uint64{11, 12}, rejoin: 15, replies: []reply{{"e", 15, true, []uint64{13, 14, 15}}},
			checked: true, recovered: 3, mark: 15},
		{name: "nothing missed", live: []uint64{11}, rejoin: 11, replies: []reply{{"e", 11, true, nil}}, checked: true, mark: 11},
		{name: "live messages during recovery", live: []uint64{11}, rejoin: 13, live2: []uint64{14, 15},
			replies: []reply{{"e", 15, true, []uint64{12, 13, 14, 15}}}, checked: true, recovered: 2, mark: 15},
		{name: "paged", rejoin: 14, replies: []reply{{"e", 14, true, []uint64{11, 12}}, {"e", 14, true, []uint64{13, 14}}},
			checked: true, recovered: 4, mark: 14},
		{name: "hole in a complete reply", live: []uint64{11}, rejoin: 14, replies: []reply{{"e", 14, true, []uint64{12, 14}}},
			wantMissed: "want 13"},
		{name: "complete but empty short of the room's seq", rejoin: 12, replies: []reply{{"e", 12, true, nil}},
			wantMissed: "no messages"},
		{name: "complete with another epoch", rejoin: 10, replies: []reply{{"f", 10, true, nil}}, wantMissed: "epoch"},
		{name: "incomplete is not a failure", rejoin: 300, replies: []reply{{"e", 300, false, []uint64{201, 202}}},
			partial: true, mark: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recovery
			if req := r.joined("e", 10); req != "" {
				t.Fatalf("first connection asked %s", req)
			}
			for _, q := range tt.live {
				r.message(q)
			}
			req := r.joined("e", tt.rejoin)
			if !strings.Contains(req, `"since":`) || !strings.Contains(req, `"epoch":"e"`) {
				t.Fatalf("reconnect asked %q", req)
			}
			for _, q := range tt.live2 {
				r.message(q)
			}
			var last recoveryResult
			recovered := 0
			for i, rp := range tt.replies {
				last = r.history(rp.epoch, rp.seq, rp.complete, rp.msgs)
				recovered += last.recovered
				if last.missed != "" || i == len(tt.replies)-1 {
					break
				}
				if !last.page {
					t.Fatalf("reply %d did not ask for the next page: %+v", i, last)
				}
			}
			if tt.wantMissed != "" {
				if !strings.Contains(last.missed, tt.wantMissed) {
					t.Fatalf("missed %q, want it to mention %q", last.missed, tt.wantMissed)
				}
				return
			}
			if last.missed != "" || last.checked != tt.checked || last.partial != tt.partial || recovered != tt.recovered || r.mark != tt.mark {
				t.Fatalf("result %+v recovered %d mark %d; want checked %v partial %v recovered %d mark %d",
					last, recovered, r.mark, tt.checked, tt.partial, tt.recovered, tt.mark)
			}
		})
	}
}
