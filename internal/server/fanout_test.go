package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
)

// noLimits lifts the command rate limit for tests that need volume.
func noLimits(c *config.Config) { c.CommandRate, c.CommandBurst = 1e6, 1e6 }

func TestOrderOf1000MessagesAt100Members(t *testing.T) {
	srv := start(t, noLimits)
	addr := srv.Addr().String()
	const members, msgs = 100, 1000
	clients := make([]*wstest.Client, members)
	for i := range clients {
		clients[i] = wstest.Dial(t, addr, fmt.Sprintf("m%03d", i))
	}
	sender := clients[0]
	errs := make(chan error, members)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := 0
			for next < msgs {
				f, err := c.Next(10 * time.Second)
				if err != nil {
					errs <- fmt.Errorf("%s after %d messages: %v", c.Nick, next, err)
					return
				}
				if f.Type() != "message" {
					continue // joined events of later members
				}
				if f.Str("from") != sender.Nick || f.Str("body") != strconv.Itoa(next) {
					errs <- fmt.Errorf("%s: message %d is %v", c.Nick, next, f)
					return
				}
				next++
			}
		}()
	}
	for i := 0; i < msgs; i++ {
		if err := sender.Send("message", map[string]any{"body": strconv.Itoa(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRoomHandoffUnderTraffic moves clients between rooms owned by different
// shards while every room is busy, and checks what each room's resident
// observer sees: every message a mover sent in that room, in order, between
// the mover's joined and left events, and nothing else from it.
func TestRoomHandoffUnderTraffic(t *testing.T) {
	srv := start(t, func(c *config.Config) { noLimits(c); c.Shards = 4 })
	addr := srv.Addr().String()
	g := srv.Shards()
	// Four rooms on four different shards.
	var rooms []string
	used := map[int]bool{}
	for i := 0; len(rooms) < 4 && i < 1000; i++ {
		name := fmt.Sprintf("room%d", i)
		if s := g.RoomShard(name); !used[s] {
			used[s] = true
			rooms = append(rooms, name)
		}
	}
	if len(rooms) < 4 {
		t.Fatal("could not find rooms on 4 shards")
	}
	observers := map[string]*wstest.Client{}
	chatters := map[string]*wstest.Client{}
	for i, r := range rooms {
		o := wstest.Dial(t, addr, "obs"+strconv.Itoa(i))
		if err := o.Send("createroom", map[string]any{"name": r}, nil); err != nil {
			t.Fatal(err)
		}
		o.Until(t, "joined")
		observers[r] = o
		ch := wstest.Dial(t, addr, "chat"+strconv.Itoa(i))
		if err := ch.Send("switchroom", map[string]any{"room": r}, nil); err != nil {
			t.Fatal(err)
		}
		for {
			f, _ := ch.Until(t, "joined")
			if f.Str("room") == r {
				break
			}
		}
		chatters[r] = ch
	}

	// What each observer saw, recorded until it sees the "done" message.
	type seen struct{ frames []wstest.Frame }
	var wg sync.WaitGroup
	got := map[string]*seen{}
	for r, o := range observers {
		s := &seen{}
		got[r] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				f, err := o.Next(20 * time.Second)
				if err != nil {
					t.Errorf("observer of %s: %v", r, err)
					return
				}
				s.frames = append(s.frames, f)
				if f.Type() == "message" && f.Str("body") == "done" {
					return
				}
			}
		}()
	}
	// Background chatter in every room.
	stop := make(chan struct{})
	var bg sync.WaitGroup
	for _, ch := range chatters {
		bg.Add(1)
		go func() {
			defer bg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := ch.Send("message", map[string]any{"body": "bg" + strconv.Itoa(i)}, nil); err != nil {
					return
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
		go func() { // drain the chatter's own socket
			for {
				if _, err := ch.Next(30 * time.Second); err != nil {
					return
				}
			}
		}()
	}

	// Movers: each visits every room in turn, sending a few messages in each.
	const movers, laps, perRoom = 4, 3, 5
	sent := make([]map[string][]string, movers) // mover → room → bodies in order
	var mw sync.WaitGroup
	for m := 0; m < movers; m++ {
		c := wstest.Dial(t, addr, "mover"+strconv.Itoa(m))
		sent[m] = map[string][]string{}
		mw.Add(1)
		go func() {
			defer mw.Done()
			seq := 0
			for lap := 0; lap < laps; lap++ {
				for k := range rooms {
					r := rooms[(k+m)%len(rooms)]
					if err := c.Send("switchroom", map[string]any{"room": r}, nil); err != nil {
						t.Error(err)
						return
					}
					// Send right away: the server must hold these until
					// the switch completes.
					for i := 0; i < perRoom; i++ {
						body := fmt.Sprintf("%s#%d", c.Nick, seq)
						seq++
						sent[m][r] = append(sent[m][r], body)
						if err := c.Send("message", map[string]any{"body": body}, nil); err != nil {
							t.Error(err)
							return
						}
					}
					// Wait for our own last message before moving on.
					last := sent[m][r][len(sent[m][r])-1]
					for {
						f, err := c.Next(10 * time.Second)
						if err != nil {
							t.Errorf("%s: %v", c.Nick, err)
							return
						}
						if f.Type() == "message" && f.Str("body") == last {
							break
						}
					}
				}
			}
		}()
	}
	mw.Wait()
	close(stop)
	bg.Wait()
	for _, ch := range chatters {
		if err := ch.Send("message", map[string]any{"body": "done"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()

	for r, s := range got {
		for m := 0; m < movers; m++ {
			nick := "mover" + strconv.Itoa(m)
			in := false
			var bodies []string
			for _, f := range s.frames {
				switch {
				case (f.Type() == "joined" || f.Type() == "left") && f.Str("nickname") == nick:
					if f.Str("room") != r {
						t.Fatalf("observer of %s got an event for %s", r, f.Str("room"))
					}
					in = f.Type() == "joined"
				case f.Type() == "message" && f.Str("from") == nick:
					if !in {
						t.Errorf("observer of %s: %v arrived outside %s's joined/left", r, f.Str("body"), nick)
					}
					bodies = append(bodies, f.Str("body"))
				}
			}
			if strings.Join(bodies, ",") != strings.Join(sent[m][r], ",") {
				t.Errorf("observer of %s saw %s's messages %v, want %v", r, nick, bodies, sent[m][r])
			}
		}
	}
}

func TestSlowReaderIsClosedOthersGetEverything(t *testing.T) {
	srv := start(t, func(c *config.Config) { noLimits(c); c.MaxBacklogBytes = 256 << 10 })
	addr := srv.Addr().String()
	// The slow reader: a tiny receive window and it never reads.
	tok, _, _ := wstest.Auth(addr, "sloth")
	d := ws.Dialer{Protocols: []string{"ics.v1", tok}, NetDial: func(ctx context.Context, network, a string) (net.Conn, error) {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, network, a)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	slowConn, _, _, err := d.Dial(context.Background(), "ws://"+addr+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer slowConn.Close()

	fast := []*wstest.Client{wstest.Dial(t, addr, "fast1"), wstest.Dial(t, addr, "fast2")}
	sender := wstest.Dial(t, addr, "sender")
	// 2,000 × 4 KB is more than the kernel buffers plus the backlog limit
	// hold. The sender waits for the fast readers every 100 messages, so
	// only the reader that does not read falls behind.
	const msgs, round = 2000, 100
	body := strings.Repeat("x", 4000)
	counts := make([]chan int, len(fast)+1)
	for i, c := range append(fast, sender) {
		counts[i] = make(chan int, msgs)
		go func() {
			n := 0
			for n < msgs {
				f, err := c.Next(20 * time.Second)
				if err != nil {
					t.Errorf("%s after %d: %v", c.Nick, n, err)
					close(counts[i])
					return
				}
				if f.Type() == "message" {
					n++
					counts[i] <- n
				}
			}
		}()
	}
	for i := 0; i < msgs; i += round {
		for k := 0; k < round; k++ {
			if err := sender.Send("message", map[string]any{"body": body}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, ch := range counts {
			for n := range ch {
				if n == i+round {
					break
				}
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	if n := metric(t, addr, "ics_slow_consumer_closes_total"); n != 1 {
		t.Fatalf("slow consumer closes = %v, want 1", n)
	}
	// Its nickname is free again: the server really dropped it.
	waitFor(t, "sloth to be freed", func() bool { _, st, _ := wstest.Auth(addr, "sloth"); return st == 201 })
}

// metric sums a metric's samples from /metrics.
func metric(t testing.TB, addr, name string) float64 {
	t.Helper()
	return metricLabeled(t, addr, name, "")
}

// metricLabeled sums the samples of name whose labels contain label (all of
// its samples, unlabelled ones included, when label is empty).
func metricLabeled(t testing.TB, addr, name, label string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		labelled := strings.HasPrefix(line, name+"{") && strings.Contains(line, label)
		plain := label == "" && strings.HasPrefix(line, name+" ")
		if labelled || plain {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}
