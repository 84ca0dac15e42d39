package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// scripted serves the real page against a server that sends each
// connection (in sign-in order) a fixed list of frames and then keeps it
// open without answering: what the page shows is a function of the frames
// alone. It returns the server's base URL.
func scripted(t *testing.T, scripts ...[]string) string {
	t.Helper()
	f := &fakeICS{hold: make(chan struct{}), ws: func(n int) (int, []string, int, string) {
		if n < len(scripts) {
			return 0, scripts[n], 0, ""
		}
		return 503, nil, 0, ""
	}}
	ts := httptest.NewServer(f.handler())
	t.Cleanup(func() {
		close(f.hold)
		f.wg.Wait()
		ts.Close()
	})
	return ts.URL + "/"
}

// frame builds a server frame's JSON.
func frame(typ, from, body, room string, extra string) string {
	s := fmt.Sprintf(`{"type":%s,"from":%s,"body":%s,"room":%s`, js(typ), js(from), js(body), js(room))
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// at is a fixed message time: 09:41 UTC plus min minutes.
func at(min int) string {
	return fmt.Sprintf(`"ts":%d`, time.Date(2026, 1, 5, 9, 41+min, 0, 0, time.UTC).UnixMilli())
}

func msg(from, body string, min int) string { return frame("message", from, body, "lobby", at(min)) }

func joinedIn(nick, room string) string {
	return frame("joined", "system", nick+" joined", room, `"nickname":`+js(nick))
}

// leaveRoom navigates the page away so its socket closes before the
// scripted server stops.
func leaveRoom(p *page) { p.do(chromedp.Navigate("about:blank")) }

// TestBrowserServerIsRecognisedByStructure: a message from a user named
// "system" is shown as that user's message; only a frame with the server
// marker looks like the server.
func TestBrowserServerIsRecognisedByStructure(t *testing.T) {
	browser := newBrowser(t)
	base := scripted(t, []string{
		joinedIn("kim", "global"),
		frame("message", "system", "I am the admin, give me your password", "global", at(0)),
		frame("message", "system", "Maintenance at 18:00 UTC", "global", at(1)+`,"server":true`),
	})
	p := newPage(t, browser, "kim")
	defer leaveRoom(p)
	p.open(base)
	p.typeEnter("nickname-input", "kim")
	p.wait("both messages", `document.querySelectorAll('#messages li.msg').length === 2`)
	got := evalJS[[]string](p, `[...document.querySelectorAll('#messages li.msg')].map(li =>
		[li.classList.contains('server'), !!li.querySelector('.server-avatar'), li.querySelector('.sender').textContent].join('|'))`)
	want := []string{"false|false|system", "true|true|Server announcement"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rendered as\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if same := evalJS[bool](p, `(() => { const [u, s] = [...document.querySelectorAll('#messages li.msg')];
		return getComputedStyle(u.querySelector('.bubble')).borderStyle === getComputedStyle(s.querySelector('.bubble')).borderStyle; })()`); same {
		t.Error("the user's bubble is styled like the server's")
	}
}

// TestScreenshots renders the documented screenshots from scripted frames
// with fixed times, in UTC, so `go test ./internal/web -update-screenshot`
// writes the same bytes every run (the tree stays clean).
func TestScreenshots(t *testing.T) {
	browser := newBrowser(t)
	conversation := func(me string) []string {
		rename := frame("nick", "system", "bob is now bobby", "lobby", `"old":"bob","nickname":"bobby"`)
		if me == "bob" { // bob's own copy carries the new token
			rename = frame("nick", "system", "bob is now bobby", "lobby", `"old":"bob","nickname":"bobby","token":"tok-bobby"`)
		}
		return []string{
			joinedIn(me, "lobby"),
			msg("alice", "Welcome to the lobby! How is the new client?", 0),
			msg("bob", "Works on my phone too.", 1),
			rename,
			msg("carol", "Each room keeps its own timeline now.", 2),
			msg("bobby", "And the room list updates by itself.", 3),
			frame("message", "system", "Maintenance at 18:00 UTC: expect a short reconnect.", "lobby", at(4)+`,"server":true`),
			msg("alice", "It should reconnect by itself.", 5),
			frame("users", "system", "alice\nbobby\ncarol", "", `"users":["alice","bobby","carol"]`),
			frame("rooms", "system", "design\nglobal\nlobby\nrandom", "", `"rooms":["design","global","lobby","random"]`),
		}
	}
	base := scripted(t, conversation("alice"), conversation("bob"))
	shots := map[string][]byte{}
	for _, s := range []struct {
		file, nick string
		w, h       int64
		scale      float64
	}{
		{"screenshot.png", "alice", 1100, 680, 1},
		{"screenshot-phone.png", "bob", 360, 720, 2},
	} {
		p := newPage(t, browser, s.nick)
		p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en-GB"})
			return err
		}))
		p.do(chromedp.EmulateViewport(s.w, s.h, chromedp.EmulateScale(s.scale)))
		p.open(base)
		p.typeEnter("nickname-input", s.nick)
		p.wait("conversation shown", `document.querySelectorAll('#messages li.msg').length === 6 &&
			document.querySelectorAll('#user-list li').length === 3 && document.querySelectorAll('#room-list li').length === 4`)
		shots[s.file] = capture(t, p)
		leaveRoom(p)
	}
	dir := t.TempDir()
	if *updateScreenshot {
		dir = filepath.Join("..", "..", "docs")
	}
	for name, png := range shots {
		if len(png) < 1000 {
			t.Fatalf("%s: suspiciously small (%d bytes)", name, len(png))
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if *updateScreenshot {
		t.Logf("wrote screenshots to %s", dir)
	}
}

// capture screenshots the page as it stands, scrolled to the newest message
// and with nothing focused (no caret).
func capture(t *testing.T, p *page) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById('messages').scrollTop = 1e9; document.activeElement.blur()`),
		chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatalf("settle: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}
