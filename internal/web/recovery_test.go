package web_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
)

// cutProxy forwards TCP to the server and can cut every connection through
// it and refuse new ones: to the page, the server's end of its socket
// dropped (and stays unreachable until restore).
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		for _, pair := range [][2]net.Conn{{c, s}, {s, c}} {
			p.wg.Add(1)
			go func(dst, src net.Conn) {
				defer p.wg.Done()
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}(pair[0], pair[1])
		}
	}
}

// cut closes every connection through the proxy and refuses new ones.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// restore lets connections through again.
func (p *cutProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestBrowserRecoversMissedMessages: the page's socket is dropped while
// another user sends 5 messages to its room; the page reconnects, goes back
// to the room, asks `history` since the last message it showed and shows
// the missed ones once each, in order, after the ones it had. When the
// server kept fewer than were missed, the page shows what there is and says
// that some messages may be missing.
func TestBrowserRecoversMissedMessages(t *testing.T) {
	browser := newBrowser(t)
	tests := []struct {
		name        string
		historySize int
		want        []string // the den timeline after the reconnect
		missing     bool     // the page says messages may be missing
	}{
		{"all kept", 0, []string{"before the page came", "seen live", "missed 1", "missed 2", "missed 3", "missed 4", "missed 5"}, false},
		{"buffer of 2", 2, []string{"before the page came", "seen live", "missed 4", "missed 5"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServerWith(t, "127.0.0.1:0", func(c *config.Config) {
				if tt.historySize > 0 {
					c.HistorySize = tt.historySize
				}
			})
			proxy := newCutProxy(t, srv.Addr().String())
			bob := wstest.Dial(t, srv.Addr().String(), "bob")
			if err := bob.Send("createroom", map[string]any{"name": "den"}, nil); err != nil {
				t.Fatal(err)
			}
			for f, _ := bob.Until(t, "joined"); f.Str("room") != "den"; f, _ = bob.Until(t, "joined") {
			}
			if err := bob.Send("message", map[string]any{"body": "before the page came"}, nil); err != nil {
				t.Fatal(err)
			}

			carol := newPage(t, browser, "carol")
			carol.open("http://" + proxy.ln.Addr().String() + "/")
			carol.login("carol")
			carol.wait("den listed", `!!document.querySelector('#room-list button[data-room="den"]')`)
			carol.clickRoom("den")
			carol.waitRoom("den")
			// Entering the room shows its recent history.
			carol.waitMessage("bob", "before the page came")
			if err := bob.Send("message", map[string]any{"body": "seen live"}, nil); err != nil {
				t.Fatal(err)
			}
			carol.waitMessage("bob", "seen live")

			proxy.cut()
			carol.wait("reconnecting", `document.getElementById('conn-status').dataset.state === 'reconnecting'`)
			// The server has noticed carol is gone before bob sends: the
			// 5 messages can only reach her through history.
			for {
				if f, _ := bob.Until(t, "left"); f.Str("nickname") == "carol" {
					break
				}
			}
			for i := 1; i <= 5; i++ {
				if err := bob.Send("message", map[string]any{"body": fmt.Sprintf("missed %d", i)}, nil); err != nil {
					t.Fatal(err)
				}
			}
			// bob's own copies: the 5 are in the room's history now.
			for i := 1; i <= 5; i++ {
				bob.Until(t, "message")
			}
			proxy.restore()
			carol.waitFor("connected again", `document.getElementById('conn-status').dataset.state === 'connected'`, 30*time.Second)
			carol.waitRoom("den")
			carol.waitMessage("bob", "missed 5")
			// Give a late duplicate the chance to show up before counting.
			time.Sleep(time.Second)
			got := evalJS[[]string](carol, `[...document.querySelectorAll('#messages li.msg .body')].map(b => b.textContent)`)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("the den timeline shows\n%q\nwant each message once, in order:\n%q", got, tt.want)
			}
			missing := evalJS[bool](carol, `[...document.querySelectorAll('#messages li.notice')].some(li => /messages may be missing/.test(li.textContent))`)
			if missing != tt.missing {
				t.Errorf("'some messages may be missing' shown: %v, want %v", missing, tt.missing)
			}
			carol.do(chromedp.Navigate("about:blank"))
		})
	}
}
