package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// Getting a fanout's connections into their rooms, and waiting for the
// membership events that causes to die down before publishing.

// setupRooms moves connections into their rooms and marks those that never
// confirmed with room -1.
func setupRooms(ctx context.Context, cfg *Config, conns []*lgConn, status progress) error {
	R := cfg.Rooms
	if cfg.Compat == CompatCentrifugo {
		// Every connection subscribed to its room's channel when it came
		// up (engine.onOpen): wait for the replies.
		waitJoined(ctx, cfg, liveConns(conns), 30*time.Second+time.Duration(len(conns))*time.Second/250)
		return ctx.Err()
	}
	if R == 1 {
		for _, lc := range conns {
			if lc != nil {
				lc.joined.Store(true)
			}
		}
		return nil
	}
	var creators, others []*lgConn
	for i, lc := range conns {
		if lc == nil {
			continue
		}
		if i < R {
			creators = append(creators, lc)
		} else {
			others = append(others, lc)
		}
	}
	status.printf("creating %d rooms", R)
	for _, lc := range creators {
		if err := lc.command(command.TypeCreateRoom, "name", cfg.roomName(lc.room)); err != nil {
			return fmt.Errorf("createroom %s: %w", cfg.roomName(lc.room), err)
		}
	}
	waitJoined(ctx, cfg, creators, 15*time.Second)
	status.printf("moving %d connections into rooms", len(others))
	for _, lc := range others {
		if err := lc.command(command.TypeSwitchRoom, "room", cfg.roomName(lc.room)); err != nil {
			lc.sh.mu.Lock()
			lc.room = -1
			lc.sh.mu.Unlock()
		}
	}
	waitJoined(ctx, cfg, others, 30*time.Second+time.Duration(len(others))*time.Second/250)
	return ctx.Err()
}

// markUnjoined takes connections that never confirmed their room out of the
// accounting (room -1) and records a failure.
func markUnjoined(conns []*lgConn, rep *Report) {
	missing := 0
	for _, lc := range conns {
		if lc != nil && !lc.joined.Load() {
			lc.sh.mu.Lock()
			lc.room = -1
			lc.sh.mu.Unlock()
			missing++
		}
	}
	if missing > 0 {
		rep.failf("rooms: %d connections never confirmed joining their room", missing)
	}
}

// settle waits until no non-message frames arrived for 600 ms, at most limit.
func settle(ctx context.Context, e *engine, limit time.Duration, status progress) {
	deadline := time.Now().Add(limit)
	_, last := e.totals()
	quiet := 0
	for quiet < 3 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		_, other := e.totals()
		if other == last {
			quiet++
		} else {
			quiet = 0
			status.printf("waiting for membership events to drain (%d frames so far)", other)
		}
		last = other
	}
}

// waitJoined waits until every connection saw its own joined event; in the
// seed dialect there are none, so it waits a fixed second and assumes success.
func waitJoined(ctx context.Context, cfg *Config, conns []*lgConn, timeout time.Duration) {
	if cfg.Compat == CompatSeed {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		for _, lc := range conns {
			lc.joined.Store(true)
		}
		return
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		all := true
		for _, lc := range conns {
			if lc.room >= 0 && !lc.joined.Load() && !lc.closed.Load() {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
