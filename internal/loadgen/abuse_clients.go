package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// The misbehaving chat clients of an abuse run, one type per scenario;
// allScenarios (abuse.go) registers them.

// slowReader never reads while flooders fill the room: the server must cut
// it off with CloseSlowConsumer.
type slowReader struct{}

func (slowReader) Name() string { return "slow_reader" }

func (slowReader) refuse(cfg *Config) error {
	if cfg.Duration < 15*time.Second {
		return usageErr("-duration %v: the slow_reader scenario needs at least 15s", cfg.Duration)
	}
	return nil
}

func (s slowReader) Run(ctx context.Context, a *abuser) (bool, string) {
	return a.withConn(ctx, "slow", s.misbehave)
}

func (slowReader) misbehave(ctx context.Context, a *abuser, c net.Conn, r *bufReader) (bool, string) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	helpers := startFlooders(ctx, a, 8)
	defer helpers()
	// Stop reading long enough for the backlog to pass the server's
	// limit (1 MiB plus what the kernel buffers: a few MB on loopback),
	// then read: a server that closed us keeps the socket open for a
	// while so the close frame can be read.
	stopAt := time.Now().Add(min(a.cfg.Duration-5*time.Second, 12*time.Second))
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(stopAt)):
	}
	_, code, err := r.waitFor(time.Now().Add(20*time.Second), nil)
	want := command.CloseSlowConsumer
	if code == want {
		return true, fmt.Sprintf("closed with %d after backlog built up", want)
	}
	if errors.Is(err, syscall.ECONNRESET) {
		// The close frame sat behind megabytes this reader was too slow
		// to reach; the server reset the connection when its grace ran
		// out. Cut off all the same.
		return true, fmt.Sprintf("connection reset by the server after backlog built up (the %d frame was queued behind data never read)", want)
	}
	return false, fmt.Sprintf("not closed with %d (close code %d, err %v)", want, code, err)
}

// oversizedFrame sends a message over the server's 64 KiB frame limit:
// it must close with CloseTooBig.
type oversizedFrame struct{}

func (oversizedFrame) Name() string { return "oversized_frame" }

func (s oversizedFrame) Run(ctx context.Context, a *abuser) (bool, string) {
	return a.withConn(ctx, "big", s.misbehave)
}

func (oversizedFrame) misbehave(ctx context.Context, a *abuser, c net.Conn, r *bufReader) (bool, string) {
	body := strings.Repeat("x", 64<<10+100)
	wrote := make(chan struct{})
	go func() { // the server may stop reading half-way: do not wait on it here
		defer close(wrote)
		_, _ = c.Write(appendFrame(nil, command.OpText, clientCommand(command.TypeMessage, "", "body", body)))
	}()
	defer func() { c.Close(); <-wrote }()
	_, code, err := r.waitFor(time.Now().Add(10*time.Second), nil)
	want := command.CloseTooBig
	if code == want {
		return true, fmt.Sprintf("closed with %d", want)
	}
	return false, fmt.Sprintf("want close %d, got code %d (err %v)", want, code, err)
}

// malformedJSON sends a truncated command: the server must answer an
// error frame with ErrBadJSON and keep the connection usable.
type malformedJSON struct{}

func (malformedJSON) Name() string { return "malformed_json" }

func (s malformedJSON) Run(ctx context.Context, a *abuser) (bool, string) {
	return a.withConn(ctx, "json", s.misbehave)
}

func (malformedJSON) misbehave(ctx context.Context, a *abuser, c net.Conn, r *bufReader) (bool, string) {
	truncated := append(appendCommandStart(nil, command.TypeMessage), `,"args":`...)
	_, _ = c.Write(appendFrame(nil, command.OpText, truncated))
	ok, code, err := r.waitFor(time.Now().Add(5*time.Second), func(op byte, p []byte) bool {
		return op == command.OpText && bytes.Contains(p, quoted(command.ErrBadJSON))
	})
	if !ok {
		return false, fmt.Sprintf("no error frame with code %s (close code %d, err %v)", command.ErrBadJSON, code, err)
	}
	// the connection must stay open: a valid command still gets an answer
	_, _ = c.Write(appendFrame(nil, command.OpText, clientCommand(command.TypeListRooms, "after")))
	ok, code, err = r.waitFor(time.Now().Add(5*time.Second), func(op byte, p []byte) bool {
		return op == command.OpText && bytes.Contains(p, quoted("after"))
	})
	if !ok {
		return false, fmt.Sprintf("%s reported but connection unusable after it (close code %d, err %v)", command.ErrBadJSON, code, err)
	}
	return true, "error " + command.ErrBadJSON + ", connection stayed open"
}

// commandFlood sends commands far over the 20/s limit: the server must
// answer ErrRateLimited, then close with CloseRateLimited.
type commandFlood struct{}

func (commandFlood) Name() string { return "command_flood" }

func (s commandFlood) Run(ctx context.Context, a *abuser) (bool, string) {
	return a.withConn(ctx, "flood", s.misbehave)
}

func (commandFlood) misbehave(ctx context.Context, a *abuser, c net.Conn, r *bufReader) (bool, string) {
	const n = 400
	want, limitedNeedle := command.CloseRateLimited, quoted(command.ErrRateLimited)
	cmd := appendFrame(nil, command.OpText, clientCommand(command.TypeListRooms, ""))
	// Lock-step: one command, then its answer. That is still far over
	// 20/s, and the server's receive buffer is empty when it closes, so
	// the close frame is not lost to a TCP reset.
	limited, deadline := 0, time.Now().Add(15*time.Second)
	for i := 0; i < n; i++ {
		if _, err := c.Write(cmd); err != nil {
			return false, fmt.Sprintf("write failed after %d commands, %d %s, no close %d: %v", i, limited, command.ErrRateLimited, want, err)
		}
		op, p, err := r.nextDataOrClose(deadline)
		switch {
		case err != nil:
			return false, fmt.Sprintf("after %d commands (%d %s): %v, no close %d", i+1, limited, command.ErrRateLimited, err, want)
		case op == command.OpClose:
			code := closeCode(p)
			if limited > 0 && code == want {
				return true, fmt.Sprintf("%d %s errors, then close %d after %d commands", limited, command.ErrRateLimited, want, i+1)
			}
			return false, fmt.Sprintf("closed with %d after %d commands and %d %s errors (want %s, then %d)", code, i+1, limited, command.ErrRateLimited, command.ErrRateLimited, want)
		case bytes.Contains(p, limitedNeedle):
			limited++
		}
	}
	return false, fmt.Sprintf("%d commands sent, %d %s, never closed with %d", n, limited, command.ErrRateLimited, want)
}

// noPong never answers the server's pings: the server pings every 25 s
// and must close (ClosePingTimeout, or CloseGoingAway) 10 s after.
type noPong struct{}

func (noPong) Name() string { return "no_pong" }

func (noPong) skip(cfg *Config) string {
	if cfg.Duration < 40*time.Second {
		return "skipped: needs -duration ≥ 40s (server pings every 25s, waits 10s)"
	}
	return ""
}

func (s noPong) Run(ctx context.Context, a *abuser) (bool, string) {
	return a.withConn(ctx, "nopong", s.misbehave)
}

func (noPong) misbehave(ctx context.Context, a *abuser, c net.Conn, r *bufReader) (bool, string) {
	deadline := time.Now().Add(a.cfg.Duration)
	for {
		op, p, err := r.next(deadline)
		if err != nil {
			if isTimeout(err) {
				return false, fmt.Sprintf("still open after %v without answering pings", a.cfg.Duration)
			}
			return true, "socket dropped: " + err.Error()
		}
		if op == command.OpClose {
			code := closeCode(p)
			return closeWanted(code, command.CloseGoingAway, command.ClosePingTimeout),
				fmt.Sprintf("closed with %d (want %d or %d)", code, command.CloseGoingAway, command.ClosePingTimeout)
		}
	}
}

// slowloris trickles an upgrade request's headers one line a second: the
// server must drop the handshake (its -handshake-timeout) within 20 s.
type slowloris struct{}

func (slowloris) Name() string { return "slowloris" }

func (slowloris) Run(ctx context.Context, a *abuser) (bool, string) {
	c, err := a.e.d.netDialer(a.cfg.Conns+999).DialContext(ctx, "tcp", a.addr())
	if err != nil {
		return false, err.Error()
	}
	start := time.Now()
	_, _ = c.Write([]byte("GET /ws HTTP/1.1\r\nHost: " + a.addr() + "\r\n"))
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, c); done <- err }()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	limit := time.After(20 * time.Second)
	for i := 0; ; i++ {
		select {
		case err := <-done:
			c.Close()
			return true, fmt.Sprintf("dropped after %.1fs (%v)", time.Since(start).Seconds(), err)
		case <-limit:
			c.Close()
			<-done
			return false, "handshake still open after 20s of trickled headers"
		case <-ctx.Done():
			c.Close()
			<-done
			return false, "run ended before the server dropped the trickling handshake"
		case <-t.C:
			_, _ = c.Write([]byte(fmt.Sprintf("X-Slow-%d: y\r\n", i)))
		}
	}
}
