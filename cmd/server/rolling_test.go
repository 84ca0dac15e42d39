package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/admin/cli"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
)

// TestRollingRestart is issue 13's rolling update, as Kubernetes does it: a
// three-node cluster (the README's command lines, each node a child process
// of the real server) is restarted one node at a time (SIGTERM: drain with
// 1012, exit 0, start again with the same flags, wait until it lists the
// cluster) while clients chat in `global`, drop and reconnect on their own,
// and move to another node when theirs sends 1012. It checks what a user
// would notice:
//   - every client closed with 1012 is back in the chat (its own `joined`)
//     within 10 s of the close;
//   - every `history` reply that says complete:true holds every message
//     after the client's last seq, none missing (a reconnect to another or a
//     restarted node must say complete:false instead: its epoch differs);
//   - on one connection the live messages' seqs have no gap;
//   - every node exits 0 on SIGTERM.
func TestRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and restarts three server processes (about a minute)")
	}
	c := startRolling(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const perNode = 2
	var chatters []*chatter
	var wg sync.WaitGroup
	for i := range 3 * perNode {
		ch := &chatter{t: t, nick: fmt.Sprintf("roll%d", i), node: i % 3, addrs: c.httpAddrs()}
		tok, st, err := wstest.Auth(ch.addrs[ch.node], ch.nick)
		if err != nil || st != 201 {
			t.Fatalf("auth %s: %d %v", ch.nick, st, err)
		}
		ch.token = tok
		chatters = append(chatters, ch)
		wg.Go(func() { ch.run(ctx) })
	}
	time.Sleep(3 * time.Second)
	for i := range c.nodes {
		c.restart(t, i)
		time.Sleep(2 * time.Second) // clients settle (and churn) on the new cluster
	}
	time.Sleep(2 * time.Second)
	cancel()
	wg.Wait()

	var closed1012, exact, partial int
	for _, ch := range chatters {
		ch.mu.Lock()
		for _, e := range ch.errs {
			t.Error(e)
		}
		closed1012 += ch.closed1012
		exact += ch.exact
		partial += ch.partial
		t.Logf("%s: %d connections, %d closed with 1012 (slowest back in %v), recoveries: %d complete, %d incomplete",
			ch.nick, ch.conns, ch.closed1012, ch.slowestBack, ch.exact, ch.partial)
		if ch.slowestBack > 10*time.Second {
			t.Errorf("%s: back %v after a 1012, want within 10 s", ch.nick, ch.slowestBack)
		}
		ch.mu.Unlock()
	}
	// Each node had clients when it drained; reconnects to the same node
	// recovered exactly at least once (else the check above proved nothing).
	if closed1012 < 3 || exact == 0 {
		t.Fatalf("%d closes with 1012, %d complete recoveries: the run did not exercise the restart", closed1012, exact)
	}
}

// rollingCluster is three server processes started from the README's flags.
type rollingCluster struct {
	nodes []*rollingNode
}

type rollingNode struct {
	args      []string
	http      string
	admin     string
	cmd       *exec.Cmd
	exited    chan struct{}
	exitCode  int
	listening chan struct{}
	stderr    bytes.Buffer // read only once exited is closed
}

func (c *rollingCluster) httpAddrs() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.http)
	}
	return out
}

func startRolling(t *testing.T) *rollingCluster {
	t.Helper()
	c := &rollingCluster{}
	var peers []string
	type ports struct{ http, admin, route int }
	var ps []ports
	free := servertest.FreePorts(t, 9)
	for i := range 3 {
		p := ports{free[3*i], free[3*i+1], free[3*i+2]}
		ps = append(ps, p)
		peers = append(peers, fmt.Sprintf("nats://127.0.0.1:%d", p.route))
	}
	for i, p := range ps {
		n := &rollingNode{http: fmt.Sprintf("127.0.0.1:%d", p.http), admin: fmt.Sprintf("127.0.0.1:%d", p.admin)}
		n.args = []string{
			"-http", n.http, "-admin", n.admin,
			"-node-id", fmt.Sprintf("n%d", i+1), "-cluster-listen", fmt.Sprintf("127.0.0.1:%d", p.route),
			"-cluster-peers", strings.Join(peers, ","),
			"-jwt-key", "rolling-test-key-0123456789abcdef0123", "-drain-timeout", "3s",
		}
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.cmd != nil {
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}
	})
	for _, n := range c.nodes {
		n.start(t)
	}
	for _, n := range c.nodes {
		n.waitReady(t)
	}
	return c
}

// start runs the node as a child process (this test binary as the server).
func (n *rollingNode) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], n.args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	n.stderr.Reset()
	cmd.Stderr = &n.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd, n.exited, n.listening = cmd, make(chan struct{}), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ICS chat server listening on ") {
				close(n.listening)
			}
		}
		err := cmd.Wait()
		n.exitCode = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			n.exitCode = ee.ExitCode()
		}
		close(n.exited)
	}()
}

// waitReady waits until the node listens and lists all three nodes.
func (n *rollingNode) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-n.listening:
	case <-n.exited:
		t.Fatalf("%s exited %d before listening: %s", n.args[5], n.exitCode, lastLine(n.stderr.String()))
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start within 60 s", n.args[5])
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out, errb bytes.Buffer
		code := cli.Run([]string{"nodes", "-addr", n.admin}, func(string) (string, bool) { return "", false }, &out, &errb)
		if code == 0 && strings.Count(out.String(), "127.0.0.1:") == 6 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: server admin nodes: exit %d\n%s%s", n.args[5], code, out.String(), errb.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// restart drains node i with SIGTERM, checks it exits 0 and starts it again.
func (c *rollingCluster) restart(t *testing.T, i int) {
	t.Helper()
	n := c.nodes[i]
	began := time.Now()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("n%d still running 30 s after SIGTERM", i+1)
	}
	if n.exitCode != 0 {
		// 66 is the race detector's: its report is in the stderr tail.
		t.Fatalf("n%d exited %d after SIGTERM, want 0; stderr ends:\n%s", i+1, n.exitCode, tail(n.stderr.String(), 80))
	}
	n.cmd = nil
	// Started again with the same flags. Its ports were free a moment ago,
	// but on a shared machine an outgoing connection may take one as its
	// source port meanwhile: then, like a restarting pod, try again.
	for try := 1; ; try++ {
		n.start(t)
		select {
		case <-n.listening:
		case <-n.exited:
			if try < 5 {
				t.Logf("n%d exited %d at start (try %d): %s", i+1, n.exitCode, try, lastLine(n.stderr.String()))
				n.cmd = nil
				time.Sleep(time.Second)
				continue
			}
		case <-time.After(60 * time.Second):
		}
		break
	}
	n.waitReady(t)
	t.Logf("n%d drained, restarted and ready in %v", i+1, time.Since(began))
}

// chatter is one user: it chats in global on one node, drops and
// reconnects now and then (to the same node: exact recovery), and moves to
// the next node when its node closes it with 1012.
type chatter struct {
	t     *testing.T
	nick  string
	token string
	addrs []string
	node  int // the node it is on or will try first

	// the room's line as last seen: epoch and the last seq with every
	// seq before it seen (live or recovered) on that line
	epoch string
	last  uint64

	mu          sync.Mutex
	errs        []string
	conns       int
	closed1012  int
	slowestBack time.Duration
	exact       int // complete:true recoveries
	partial     int // complete:false recoveries
	sent        int
}

func (ch *chatter) fail(format string, args ...any) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.errs = append(ch.errs, ch.nick+": "+fmt.Sprintf(format, args...))
}

type frameOrErr struct {
	f   wstest.Frame
	err error
}

func (ch *chatter) run(ctx context.Context) {
	var closedAt time.Time // when the last 1012 came (zero: none pending)
	for ctx.Err() == nil {
		cl := ch.dial(ctx)
		if cl == nil {
			return
		}
		ch.mu.Lock()
		ch.conns++
		ch.mu.Unlock()
		frames := make(chan frameOrErr, 1024)
		go func() {
			defer close(frames)
			for {
				f, err := cl.Next(30 * time.Second)
				frames <- frameOrErr{f, err}
				if err != nil {
					return
				}
			}
		}()
		code, back := ch.session(ctx, cl, frames, !closedAt.IsZero())
		if back && !closedAt.IsZero() {
			d := time.Since(closedAt)
			ch.mu.Lock()
			ch.slowestBack = max(ch.slowestBack, d)
			ch.mu.Unlock()
			closedAt = time.Time{}
		}
		_ = cl.Close()
		for range frames { // until the reader ends
		}
		if code == 1012 {
			if closedAt.IsZero() { // a 1012 on the way back counts from the first
				closedAt = time.Now()
			}
			ch.mu.Lock()
			ch.closed1012++
			ch.mu.Unlock()
			ch.node = (ch.node + 1) % len(ch.addrs)
		}
	}
	if !closedAt.IsZero() && time.Since(closedAt) > 10*time.Second {
		ch.fail("not back %v after a 1012", time.Since(closedAt))
	}
}

// dial connects to ch.node, or the next node that takes the upgrade.
func (ch *chatter) dial(ctx context.Context) *wstest.Client {
	for ctx.Err() == nil {
		cl, err := wstest.DialToken(ch.addrs[ch.node], ch.token)
		if err == nil {
			cl.Nick, cl.Token = ch.nick, ch.token
			return cl
		}
		var de *wstest.DialError
		if errors.As(err, &de) && de.Status != 503 {
			ch.fail("upgrade on %s: %v", ch.addrs[ch.node], err)
			return nil
		}
		// Draining, down, or the claim still moving: the next node.
		ch.node = (ch.node + 1) % len(ch.addrs)
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// session chats on one connection until ctx ends, the client drops it (a
// random 1-3 s) or the server closes it; it returns the close code (0 if
// none) and whether the client got back into the chat (its own joined).
func (ch *chatter) session(ctx context.Context, cl *wstest.Client, frames <-chan frameOrErr, recovering bool) (code int, back bool) {
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	drop := time.After(time.Second + time.Duration(time.Now().UnixNano()%int64(2*time.Second)))
	var next uint64 // the next live seq expected on this connection (0: not joined yet)
	asked := uint64(0)
	askedEpoch := ""
	for {
		select {
		case <-ctx.Done():
			return 0, back
		case <-drop:
			return 0, back
		case <-tick.C:
			if next == 0 {
				continue
			}
			ch.sent++
			_ = cl.Send("message", map[string]any{"body": fmt.Sprintf("%s-%d", ch.nick, ch.sent)}, nil)
		case fe, ok := <-frames:
			if !ok {
				return 0, back
			}
			if fe.err != nil {
				var ce *wstest.CloseError
				if errors.As(fe.err, &ce) {
					if ce.Code != 1012 {
						ch.fail("closed with %d %q", ce.Code, ce.Reason)
					}
					return ce.Code, back
				}
				if ctx.Err() == nil {
					ch.fail("connection ended without a close frame: %v", fe.err)
				}
				return 0, back
			}
			f := fe.f
			switch f.Type() {
			case "joined":
				if f.Str("nickname") != ch.nick || f.Str("room") != "global" {
					continue
				}
				back = true
				seq, epoch := seqNum(f), f.Str("epoch")
				next = seq + 1
				if ch.epoch != "" {
					asked, askedEpoch = ch.last, ch.epoch
					_ = cl.Send("history", map[string]any{"since": ch.last, "epoch": ch.epoch, "limit": 100}, "h")
				}
				ch.epoch, ch.last = epoch, seq
			case "message":
				seq := seqNum(f)
				if seq != next {
					ch.fail("live message seq %d, want %d (a gap on one connection): %v", seq, next, f)
				}
				next = seq + 1
				ch.last = seq
			case "history":
				ch.checkHistory(f, asked, askedEpoch)
			case "error":
				ch.fail("error frame %v", f)
			}
		}
	}
}

// checkHistory: a complete reply holds every seq after since (up to the
// room's seq or the limit); an incomplete one must come with another epoch
// or lost messages, which is allowed (the client is told).
func (ch *chatter) checkHistory(f wstest.Frame, since uint64, epoch string) {
	complete, _ := f["complete"].(bool)
	msgs, _ := f["messages"].([]any)
	ch.mu.Lock()
	if !complete {
		ch.partial++
		ch.mu.Unlock()
		return
	}
	ch.exact++
	ch.mu.Unlock()
	if f.Str("epoch") != epoch {
		ch.fail("complete:true with epoch %q for a request with %q", f.Str("epoch"), epoch)
		return
	}
	want := min(seqNum(f), since+100) - since
	if uint64(len(msgs)) != want {
		ch.fail("complete:true since %d (room seq %d) holds %d messages, want %d", since, seqNum(f), len(msgs), want)
		return
	}
	for i, m := range msgs {
		mf, _ := m.(map[string]any)
		if s := seqNum(mf); s != since+uint64(i)+1 {
			ch.fail("complete:true since %d: message %d has seq %d", since, i, s)
			return
		}
	}
}

func seqNum(f wstest.Frame) uint64 {
	v, _ := f["seq"].(float64)
	return uint64(v)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func lastLine(s string) string { return tail(s, 1) }
