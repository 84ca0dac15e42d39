package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/admin/cli"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
)

// TestThreeNodesFromFlags starts three nodes with nothing but the command
// lines of the README's Cluster section (ports picked free), checks that
// each lists the three in `server admin nodes` and that they chat as one,
// then stops them all with SIGTERM.
func TestThreeNodesFromFlags(t *testing.T) {
	type node struct{ http, admin, route int }
	nodes := make([]node, 3)
	var peers []string
	ports := servertest.FreePorts(t, 3*len(nodes))
	for i := range nodes {
		nodes[i] = node{ports[3*i], ports[3*i+1], ports[3*i+2]}
		peers = append(peers, fmt.Sprintf("nats://127.0.0.1:%d", nodes[i].route))
	}
	var wg sync.WaitGroup
	codes := make([]int, 3)
	up := make(chan struct{}, 3)
	failed := make(chan string, 3)
	for i, n := range nodes {
		args := []string{
			"-http", fmt.Sprintf("127.0.0.1:%d", n.http), "-admin", fmt.Sprintf("127.0.0.1:%d", n.admin),
			"-node-id", fmt.Sprintf("n%d", i+1), "-cluster-listen", fmt.Sprintf("127.0.0.1:%d", n.route),
			"-cluster-peers", strings.Join(peers, ","), "-jwt-key", "three-nodes-test-key-0123456789abcdef", "-drain-timeout", "5s",
		}
		pr, pw := io.Pipe()
		wg.Go(func() {
			code := run(args, pw, io.Discard)
			codes[i] = code
			pw.Close()
			if code != 0 {
				failed <- fmt.Sprintf("node %d exited %d at start", i+1, code) // fail now, not after 90 s
			}
		})
		go func() {
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "ICS chat server listening on ") {
					up <- struct{}{}
				}
			}
		}()
	}
	for range nodes {
		select {
		case <-up:
		case msg := <-failed:
			t.Fatal(msg)
		case <-time.After(90 * time.Second):
			t.Fatal("the three nodes did not come up")
		}
	}
	for _, n := range nodes {
		var out, errb bytes.Buffer
		deadline := time.Now().Add(10 * time.Second)
		for {
			out.Reset()
			errb.Reset()
			code := cli.Run([]string{"nodes", "-addr", fmt.Sprintf("127.0.0.1:%d", n.admin)}, func(string) (string, bool) { return "", false }, &out, &errb)
			if code == 0 && strings.Count(out.String(), "127.0.0.1:") == 6 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server admin nodes: exit %d\n%s%s", code, out.String(), errb.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	a := wstest.Dial(t, fmt.Sprintf("127.0.0.1:%d", nodes[0].http), "flagsa")
	b := wstest.Dial(t, fmt.Sprintf("127.0.0.1:%d", nodes[2].http), "flagsb")
	a.Until(t, "joined")
	if err := a.Send("message", map[string]any{"body": "across"}, nil); err != nil {
		t.Fatal(err)
	}
	if f, _ := b.Until(t, "message"); f.Str("body") != "across" || f.Str("from") != "flagsa" {
		t.Fatalf("flagsb got %v", f)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("node %d exited %d", i+1, c)
		}
	}
}
