package wsio

import (
	"net/http"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/ics-chat/ics/internal/auth"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/fanout"
	"github.com/ics-chat/ics/internal/shard"
)

// fakeEL stands for one gnet event loop (only its identity is used).
type fakeEL struct {
	gnet.EventLoop
	id int
}

func newTestServer(t *testing.T, loops int) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Loops = loops
	fl := fanout.NewLoops(loops)
	iss, _, err := auth.NewIssuer("test-key-0123456789abcdef0123456789", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg, Shards: shard.NewGroup(1, fl, shard.Options{}), Loops: fl, Issuer: iss, HTTP: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Each gnet event loop gets its own loop state; one more gnet loop than
// configured is refused rather than given a state another loop owns.
func TestBindLoopNeverShares(t *testing.T) {
	s := newTestServer(t, 2)
	els := []*fakeEL{{id: 0}, {id: 1}, {id: 2}}
	tests := []struct {
		el      *fakeEL
		want    *loop // nil: refused
		wantErr bool
	}{
		{els[0], s.loops[0], false},
		{els[1], s.loops[1], false},
		{els[0], s.loops[0], false}, // again: the same state
		{els[2], nil, true},
	}
	for i, tt := range tests {
		got, err := s.bindLoop(tt.el)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("step %d: bindLoop(el %d) = %p, %v; want %p, error %v", i, tt.el.id, got, err, tt.want, tt.wantErr)
		}
	}
}
