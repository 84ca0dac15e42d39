package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/ics-chat/ics/internal/web"
)

// fakeICS serves the real page with a scripted /auth and /ws, to drive the
// client through cases the real server only reaches by admin action (a kick)
// or by accident (a refused upgrade).
type fakeICS struct {
	mu     sync.Mutex
	auths  []string // nicknames asked for
	tokens []string // tokens offered on /ws, in order
	// ws decides what to do with the n-th upgrade (0-based): refuse with a
	// status, or accept and close with a code after sending frames.
	ws func(n int) (refuse int, frames []string, code int, reason string)
	wg sync.WaitGroup
	// hold: a code of 0 keeps the connection open (commands are not
	// answered) until hold is closed.
	hold chan struct{}
}

func (f *fakeICS) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		nick := r.URL.Query().Get("nickname")
		f.mu.Lock()
		f.auths = append(f.auths, nick)
		tok := fmt.Sprintf("tok-%d", len(f.auths))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "nickname": nick, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		var offered []string
		for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
			for _, p := range strings.Split(v, ",") {
				offered = append(offered, strings.TrimSpace(p))
			}
		}
		f.mu.Lock()
		n := len(f.tokens)
		tok := ""
		if len(offered) == 2 && offered[0] == "ics.v1" {
			tok = offered[1]
		}
		f.tokens = append(f.tokens, tok)
		f.mu.Unlock()
		refuse, frames, code, reason := f.ws(n)
		if refuse != 0 {
			http.Error(w, `{"error":"refused","code":"token_revoked"}`, refuse)
			return
		}
		up := ws.HTTPUpgrader{Protocol: func(p string) bool { return p == "ics.v1" }}
		conn, _, _, err := up.Upgrade(r, w)
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer conn.Close()
			for _, fr := range frames {
				if err := wsutil.WriteServerText(conn, []byte(fr)); err != nil {
					return
				}
			}
			if code == 0 {
				<-f.hold
				return
			}
			time.Sleep(100 * time.Millisecond)
			_ = ws.WriteFrame(conn, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
			// Read until the browser's close reply, then hang up (the
			// server closes TCP first). No second close frame is sent.
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			for {
				h, err := ws.ReadHeader(conn)
				if err != nil {
					return
				}
				if _, err := io.CopyN(io.Discard, conn, h.Length); err != nil || h.OpCode == ws.OpClose {
					return
				}
			}
		}()
	})
	return mux
}

func (f *fakeICS) snapshot() (auths, tokens []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auths...), append([]string(nil), f.tokens...)
}

func joinedFrame(nick string) string {
	return `{"type":"joined","from":"system","body":"` + nick + ` joined","room":"global","nickname":"` + nick + `"}`
}

func TestBrowserCloseCodes(t *testing.T) {
	browser := newBrowser(t)

	t.Run("refused upgrade gets a new token, then a kick is final", func(t *testing.T) {
		f := &fakeICS{ws: func(n int) (int, []string, int, string) {
			if n == 0 {
				return http.StatusUnauthorized, nil, 0, "" // the first token is refused
			}
			return 0, []string{joinedFrame("kim")}, 4001, "flooding the room"
		}}
		ts := httptest.NewServer(f.handler())
		defer ts.Close()
		defer f.wg.Wait()
		p := newPage(t, browser, "kim")
		p.open(ts.URL + "/")
		p.typeEnter("nickname-input", "kim")
		p.wait("kicked notice", `!document.getElementById('login-view').hidden &&
			/removed/.test(document.getElementById('ended-notice').textContent) &&
			document.getElementById('ended-notice').textContent.includes('flooding the room')`)
		time.Sleep(1500 * time.Millisecond)
		auths, tokens := f.snapshot()
		if strings.Join(auths, ",") != "kim,kim" {
			t.Errorf("auth calls %v, want kim twice (sign-in, then after the refused upgrade)", auths)
		}
		if strings.Join(tokens, ",") != "tok-1,tok-2" {
			t.Errorf("tokens offered on /ws %v, want tok-1 then tok-2 and no reconnect after 4001", tokens)
		}
		if st := evalJS[string](p, `document.getElementById('conn-status').dataset.state`); st != "offline" {
			t.Errorf("status %q after a kick, want offline", st)
		}
	})

	t.Run("1012 reconnects with the same token, 1000 is final", func(t *testing.T) {
		f := &fakeICS{ws: func(n int) (int, []string, int, string) {
			if n == 0 {
				return 0, []string{joinedFrame("lee")}, 1012, "service restart"
			}
			return 0, []string{joinedFrame("lee")}, 1000, "bye"
		}}
		ts := httptest.NewServer(f.handler())
		defer ts.Close()
		defer f.wg.Wait()
		p := newPage(t, browser, "lee")
		p.open(ts.URL + "/")
		p.typeEnter("nickname-input", "lee")
		p.wait("left notice", `!document.getElementById('login-view').hidden && /left/.test(document.getElementById('ended-notice').textContent)`)
		time.Sleep(1500 * time.Millisecond)
		auths, tokens := f.snapshot()
		if len(auths) != 1 || strings.Join(tokens, ",") != "tok-1,tok-1" {
			t.Errorf("auths %v tokens %v: want one sign-in and the same token reused once", auths, tokens)
		}
		p.do(chromedp.WaitVisible(chromedp.ID("nickname-input")))
	})
}
