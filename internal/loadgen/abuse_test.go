package loadgen

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ics-chat/ics/bench/gorillahub"
)

// policyWS is a stand-in for the ICS limits on /ws: 64 KiB read limit
// (close 1009), bad_json errors, a 20/s burst-40 command limit answering
// rate_limited and closing 4029 after 100 rejections.
func policyWS(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{"ics.v1"}}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(64 << 10)
	tokens, last, rejected := 40.0, time.Now(), 0
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		tokens = min(40, tokens+now.Sub(last).Seconds()*20)
		last = now
		var cmd struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		switch {
		case json.Unmarshal(msg, &cmd) != nil:
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"error","from":"system","body":"bad","code":"bad_json"}`))
		case tokens < 1:
			rejected++
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"error","from":"system","body":"slow down","code":"rate_limited"}`))
			if rejected >= 100 {
				_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4029, "flood"), time.Now().Add(time.Second))
				return
			}
		default:
			tokens--
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"rooms","from":"system","body":"global","rooms":["global"],"id":"`+cmd.ID+`"}`))
		}
	}
}

func TestAbuseScenarios(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hub := gorillahub.New(gorillahub.Options{})
	mux := http.NewServeMux()
	mux.Handle("/auth", hub)
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		// abusers (nicknames PREFIX_a…) get the policy stand-in, everyone else the hub
		if strings.Contains(r.Header.Get("Sec-WebSocket-Protocol"), "abuse_a") {
			policyWS(w, r)
			return
		}
		hub.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); _ = hub.Close() }()

	cfg := DefaultConfig()
	cfg.Addr, cfg.Prefix, cfg.Conns, cfg.Rate = ln.Addr().String(), "abuse", 6, 20
	cfg.Duration, cfg.Warmup = 2*time.Second, 200*time.Millisecond
	cfg.Scenarios = "oversized_frame,malformed_json,command_flood"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := RunAbuse(ctx, cfg)
	if err != nil {
		t.Fatalf("RunAbuse: %v", err)
	}
	if !rep.OK() || len(rep.Abuse) != 3 {
		t.Fatalf("failures %v, results %+v", rep.Failures, rep.Abuse)
	}

	// selection errors are usage errors
	tests := []struct {
		name, scenarios string
		dur             time.Duration
	}{
		{"unknown scenario", "nope", 20 * time.Second},
		{"slow reader too short", "slow_reader", 5 * time.Second},
	}
	for _, tc := range tests {
		c := cfg
		c.Scenarios, c.Duration = tc.scenarios, tc.dur
		if _, err := RunAbuse(ctx, c); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%s: err %v, want a usage error", tc.name, err)
		}
	}
}
