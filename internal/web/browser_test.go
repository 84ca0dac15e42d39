package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ics-chat/ics/internal/wstest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write docs/screenshot.png and docs/screenshot-phone.png (TestScreenshots: scripted frames, fixed times, so the same bytes every run)")

// chromiumPath finds the browser, or skips (fails under ICS_REQUIRE_BROWSER=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("ICS_CHROMIUM"), "/usr/bin/chromium"}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("ICS_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium found (/usr/bin/chromium) and ICS_REQUIRE_BROWSER=1: install it with apt-get install -y chromium")
	}
	t.Skip("no Chromium found at /usr/bin/chromium; set ICS_REQUIRE_BROWSER=1 to make this a failure")
	return ""
}

// newBrowser starts one headless Chromium for the test and returns its root
// context (already running).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Tabs in the background must keep their timers (reconnect backoff).
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1100, 720),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

// page is one browser tab in its own browser context (separate storage).
type page struct {
	t    *testing.T
	name string
	ctx  context.Context
}

func newPage(t *testing.T, browser context.Context, name string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("%s: new tab: %v", name, err)
	}
	p := &page{t: t, name: name, ctx: ctx}
	t.Cleanup(cancel) // closes the tab and its browser context
	return p
}

// use makes the pages report failures to t (a subtest) until it ends.
func use(t *testing.T, pages ...*page) {
	for _, p := range pages {
		prev := p.t
		p.t = t
		t.Cleanup(func() { p.t = prev })
	}
}

const stepTimeout = 15 * time.Second

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v\n%s", p.name, err, p.debug())
	}
}

// eval runs a JavaScript expression and decodes its value into T.
func evalJS[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: eval %s: %v", p.name, expr, err)
	}
	return v
}

// wait polls a JavaScript expression until it is truthy.
func (p *page) wait(what, expr string) {
	p.t.Helper()
	p.waitFor(what, expr, stepTimeout)
}

func (p *page) waitFor(what, expr string, d time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, d+time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		p.t.Fatalf("%s: waiting for %s: %v\n%s", p.name, what, err, p.debug())
	}
}

// debug describes the page state for a failure message.
func (p *page) debug() string {
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		status: document.getElementById('conn-status').textContent,
		room: document.getElementById('current-room').textContent,
		me: document.getElementById('me-nick').textContent,
		loginError: document.getElementById('login-error').textContent,
		ended: document.getElementById('ended-notice').textContent,
		banner: document.getElementById('error-text').textContent,
		users: [...document.querySelectorAll('#user-list li')].map(li => li.dataset.nick),
		rooms: [...document.querySelectorAll('#room-list button')].map(b => b.dataset.room),
		log: [...document.querySelectorAll('#messages li')].slice(-12).map(li => li.textContent),
	})`))
	if err != nil {
		return "(page state unavailable: " + err.Error() + ")"
	}
	return "page state: " + s
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (p *page) open(url string) {
	p.t.Helper()
	p.do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("nickname-input")))
}

// typeEnter types text into the input and presses Enter.
func (p *page) typeEnter(id, text string) {
	p.t.Helper()
	p.do(
		chromedp.Evaluate[chromedp.Void](`document.getElementById(`+js(id)+`).value = ''`),
		chromedp.SendKeys(chromedp.ID(id), text+"\r"),
	)
}

func (p *page) login(nick string) {
	p.t.Helper()
	p.typeEnter("nickname-input", nick)
	p.waitConnected()
	p.wait("own nickname shown", `document.getElementById('me-nick').textContent === `+js(nick))
	p.wait("self in user list", `!!document.querySelector('#user-list li[data-nick=`+js(nick)+`]')`)
}

func (p *page) waitConnected() {
	p.t.Helper()
	p.wait("connected status", `document.getElementById('conn-status').dataset.state === 'connected' && !document.getElementById('chat-view').hidden`)
}

func (p *page) send(text string) {
	p.t.Helper()
	p.typeEnter("message-input", text)
	p.wait("input cleared after send", `document.getElementById('message-input').value === ''`)
}

func (p *page) waitMessage(from, body string) {
	p.t.Helper()
	p.wait(fmt.Sprintf("message %q from %s", body, from), `[...document.querySelectorAll('#messages li.msg')].some(li =>
		li.dataset.from === `+js(from)+` && li.querySelector('.body').textContent === `+js(body)+`)`)
}

// hasMessage reports whether the shown timeline has a message with body.
func (p *page) hasMessage(body string) bool {
	p.t.Helper()
	return evalJS[bool](p, `[...document.querySelectorAll('#messages li.msg .body')].some(b => b.textContent === `+js(body)+`)`)
}

func (p *page) waitNotice(substr string) {
	p.t.Helper()
	p.wait("notice "+substr, `[...document.querySelectorAll('#messages li.notice')].some(li => li.textContent.includes(`+js(substr)+`))`)
}

func (p *page) waitUsers(users ...string) {
	p.t.Helper()
	b, _ := json.Marshal(users)
	p.wait(fmt.Sprintf("user list %v", users), `JSON.stringify([...document.querySelectorAll('#user-list li')].map(li => li.dataset.nick)) === `+js(string(b)))
}

// clickRoom clicks room's button in the room list. The list is rendered
// again whenever a pushed room list or a join arrives, so the button is
// found and clicked in one step inside the page: a node looked up first
// can be replaced before a separate click reaches it ("Could not find node
// with given id").
func (p *page) clickRoom(room string) {
	p.t.Helper()
	sel := `#room-list button[data-room=` + js(room) + `]`
	p.wait("room "+room+" clicked", `(() => { const b = document.querySelector(`+js(sel)+`); if (!b) return false; b.click(); return true; })()`)
}

func (p *page) waitRoom(room string) {
	p.t.Helper()
	p.wait("current room "+room, `document.getElementById('current-room').textContent === `+js(room)+
		` && !!document.querySelector('#room-list button[data-room=`+js(room)+`][aria-current="true"]')`)
}

func TestBrowserChat(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0")
	base := "http://" + srv.Addr().String() + "/"
	start := time.Now()
	outer := t

	alice := newPage(t, browser, "alice")
	bob := newPage(t, browser, "bob")
	alice.open(base)
	bob.open(base)

	// Keyboard only: the nickname field has focus and Enter submits.
	if got := evalJS[string](alice, `document.activeElement.id`); got != "nickname-input" {
		t.Errorf("focus on load is on %q, want nickname-input", got)
	}
	alice.login("alice")
	alice.waitRoom("global")
	bob.login("bob")
	alice.waitUsers("alice", "bob")
	alice.waitNotice("bob joined")
	bob.waitUsers("alice", "bob")

	t.Run("message reaches the other user", func(t *testing.T) {
		use(t, alice, bob)
		bob.send("hello alice")
		alice.waitMessage("bob", "hello alice")
		bob.waitMessage("bob", "hello alice")
		if !evalJS[bool](bob, `[...document.querySelectorAll('#messages li.msg.own')].some(li => li.textContent.includes('hello alice'))`) {
			t.Error("own message is not marked .own on the sender's page")
		}
		if evalJS[bool](alice, `[...document.querySelectorAll('#messages li.msg.own')].some(li => li.textContent.includes('hello alice'))`) {
			t.Error("someone else's message is marked .own")
		}
		if !evalJS[bool](alice, `(() => { const t = [...document.querySelectorAll('#messages li.msg')].pop().querySelector('time');
			return !!t && /\d/.test(t.textContent) && Math.abs(Date.parse(t.dateTime) - Date.now()) < 60000; })()`) {
			t.Error("message has no sensible time")
		}
	})

	t.Run("nickname taken and invalid", func(t *testing.T) {
		use(t, alice, bob)
		carol := newPage(t, browser, "carol")
		carol.open(base)
		carol.typeEnter("nickname-input", "alice")
		carol.wait("taken error", `!document.getElementById('login-error').hidden && /taken/i.test(document.getElementById('login-error').textContent)`)
		if code := evalJS[string](carol, `document.getElementById('login-error').dataset.code`); code != "nickname_taken" {
			t.Errorf("error code %q, want nickname_taken", code)
		}
		carol.typeEnter("nickname-input", "9lives")
		carol.wait("invalid error", `!document.getElementById('login-error').hidden && /not valid/i.test(document.getElementById('login-error').textContent)`)
		if !evalJS[bool](carol, `document.getElementById('chat-view').hidden`) {
			t.Error("chat view shown after a failed sign-in")
		}
	})

	t.Run("room list updates itself, one timeline per room", func(t *testing.T) {
		use(t, alice, bob)
		alice.typeEnter("new-room-input", "lobby")
		alice.waitRoom("lobby")
		alice.waitUsers("alice")
		// No click on bob's side: the server pushes the new list.
		bob.wait("lobby listed without a click", `!!document.querySelector('#room-list button[data-room="lobby"]')`)
		// alice's lobby has its own, empty timeline, and says what to do.
		if alice.hasMessage("hello alice") {
			t.Error("the lobby's timeline shows global's messages")
		}
		alice.wait("empty state", `!document.getElementById('empty-state').hidden && document.getElementById('empty-room').textContent === '#lobby'`)
		bob.clickRoom("lobby")
		bob.waitRoom("lobby")
		alice.waitUsers("alice", "bob")
		bob.waitUsers("alice", "bob")
		alice.waitNotice("bob joined")
		bob.send("made it to the lobby")
		alice.waitMessage("bob", "made it to the lobby")
		alice.wait("empty state gone", `document.getElementById('empty-state').hidden`)

		// Back in global: global's own timeline, without the lobby's.
		alice.clickRoom("global")
		alice.waitRoom("global")
		alice.waitMessage("bob", "hello alice")
		if alice.hasMessage("made it to the lobby") {
			t.Error("global's timeline shows the lobby's messages")
		}
		if n := evalJS[int](alice, `[...document.querySelectorAll('#messages li.notice.divider')].length`); n != 1 {
			t.Errorf("global's timeline has %d 'You are in' dividers, want 1", n)
		}
		// A room created and left empty is deleted: it leaves bob's list
		// by itself too.
		alice.typeEnter("new-room-input", "attic")
		alice.waitRoom("attic")
		bob.wait("attic listed", `!!document.querySelector('#room-list button[data-room="attic"]')`)
		alice.clickRoom("lobby")
		alice.waitRoom("lobby")
		alice.waitMessage("bob", "made it to the lobby")
		bob.wait("attic gone without a click", `!document.querySelector('#room-list button[data-room="attic"]')`)
	})

	t.Run("server announcements look like the server", func(t *testing.T) {
		use(t, alice, bob)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := srv.Shards().Broadcast(ctx, "lobby", "Maintenance at 18:00 UTC"); err != nil {
			t.Fatal(err)
		}
		for _, pg := range []*page{alice, bob} {
			pg.wait("announcement", `[...document.querySelectorAll('#messages li.msg.server')].some(li =>
				li.querySelector('.body').textContent === 'Maintenance at 18:00 UTC' && li.querySelector('.sender').textContent === 'Server announcement')`)
		}
	})

	var bobToken string
	t.Run("change nickname", func(t *testing.T) {
		use(t, alice, bob)
		before := evalJS[string](bob, `window.icsClient.token`)
		hueOf := func(p *page, sel string) string {
			return evalJS[string](p, `document.querySelector(`+js(sel)+`).style.getPropertyValue('--hue')`)
		}
		aliceSeesBob, bobSeesSelf := hueOf(alice, `#user-list li[data-nick="bob"] .avatar`), hueOf(bob, `#me-avatar`)
		bob.typeEnter("nick-input", "bobby")
		bob.wait("new nickname", `document.getElementById('me-nick').textContent === 'bobby'`)
		alice.waitNotice("bob is now bobby")
		alice.waitUsers("alice", "bobby")
		// The avatar keeps its colour across the rename, on both pages.
		if got := hueOf(alice, `#user-list li[data-nick="bobby"] .avatar`); got != aliceSeesBob {
			t.Errorf("alice sees bob's avatar hue %s become %s after the rename", aliceSeesBob, got)
		}
		if got := hueOf(bob, `#me-avatar`); got != bobSeesSelf {
			t.Errorf("bob's own avatar hue %s became %s after the rename", bobSeesSelf, got)
		}
		bobToken = evalJS[string](bob, `window.icsClient.token`)
		if bobToken == "" || bobToken == before {
			t.Error("token not replaced after setnick")
		}
		saved := evalJS[string](bob, `sessionStorage.getItem('ics.session')`)
		if !strings.Contains(saved, bobToken) || !strings.Contains(saved, `"bobby"`) {
			t.Errorf("session not stored for reconnects: %s", saved)
		}
		// Taken nickname in setnick shows the error frame.
		bob.typeEnter("nick-input", "alice")
		bob.wait("error banner", `!document.getElementById('error-banner').hidden && document.getElementById('error-banner').dataset.code === 'nickname_taken'`)
	})

	t.Run("served behind a path prefix", func(t *testing.T) {
		target, _ := url.Parse("http://" + srv.Addr().String())
		proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // keep the browser's Origin and Host in step
		}}
		mux := http.NewServeMux()
		mux.Handle("/chat/", http.StripPrefix("/chat", proxy))
		ps := httptest.NewServer(mux)
		defer ps.Close()
		use(t, alice, bob)
		dave := newPage(t, browser, "dave")
		dave.open(ps.URL + "/chat/")
		dave.login("dave")
		dave.send("via the prefix")
		dave.waitMessage("dave", "via the prefix")
		dave.do(chromedp.Click(chromedp.ID("exit-button")))
		dave.wait("left", `!document.getElementById('login-view').hidden`)
		ps.CloseClientConnections()
	})

	// Conversation for the screenshot.
	alice.send("Welcome to the lobby! How is the new client?")
	bob.waitMessage("alice", "Welcome to the lobby! How is the new client?")
	bob.send("Works on my phone too. Restarting the server now.")
	alice.waitMessage("bobby", "Works on my phone too. Restarting the server now.")
	alice.send("It should reconnect by itself.")
	bob.waitMessage("alice", "It should reconnect by itself.")
	bob.do(chromedp.Click(chromedp.ID("error-dismiss")))
	bob.wait("banner dismissed", `document.getElementById('error-banner').hidden`)

	t.Run("accessible names and live region", func(t *testing.T) {
		use(t, alice, bob)
		missing := evalJS[[]string](alice, `[...document.querySelectorAll('input, button')].filter(e => {
			if (e.getAttribute('aria-label')) return false;
			if (e.tagName === 'BUTTON') return !e.textContent.trim();
			return !(e.id && document.querySelector('label[for="' + e.id + '"]'));
		}).map(e => e.id || e.outerHTML.slice(0, 60))`)
		if len(missing) > 0 {
			t.Errorf("controls without an accessible name: %v", missing)
		}
		if got := evalJS[string](alice, `(m => m.getAttribute('role') + ' ' + m.getAttribute('aria-live'))(document.getElementById('messages'))`); got != "log polite" {
			t.Errorf("messages list: role/aria-live %q", got)
		}
	})

	t.Run("stream autoscrolls", func(t *testing.T) {
		use(t, alice, bob)
		for i := 1; i <= 12; i++ {
			bob.send(fmt.Sprintf("line %d of a long story", i))
		}
		alice.waitMessage("bobby", "line 12 of a long story")
		alice.wait("scrolled to the newest message", `(m => m.scrollHeight > m.clientHeight && m.scrollHeight - m.scrollTop - m.clientHeight < 5)(document.getElementById('messages'))`)
	})

	t.Run("phone width and keyboard", func(t *testing.T) {
		use(t, alice, bob)
		bob.do(chromedp.EmulateViewport(360, 720, chromedp.EmulateScale(2)))
		defer bob.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
			return err
		}))
		bob.wait("no horizontal overflow", `document.documentElement.scrollWidth <= 360`)
		if evalJS[bool](bob, `getComputedStyle(document.getElementById('sidebar')).display !== 'none'`) {
			t.Error("sidebar visible over the conversation at phone width before it is opened")
		}
		// Keyboard only: focus the menu button, Enter opens the sidebar,
		// Escape closes it again.
		bob.do(chromedp.Focus(chromedp.ID("sidebar-toggle")), chromedp.KeyEvent(kb.Enter))
		bob.wait("sidebar open", `getComputedStyle(document.getElementById('sidebar')).display !== 'none' &&
			document.getElementById('sidebar-toggle').getAttribute('aria-expanded') === 'true'`)
		bob.wait("room list in the sidebar", `!!document.querySelector('#room-list button[data-room="lobby"]')`)
		bob.do(chromedp.KeyEvent(kb.Escape))
		bob.wait("sidebar closed", `getComputedStyle(document.getElementById('sidebar')).display === 'none' &&
			document.activeElement.id === 'sidebar-toggle'`)
		bob.do(chromedp.Focus(chromedp.ID("message-input")))
		bob.send("typed at 360px")
		alice.waitMessage("bobby", "typed at 360px")
	})

	t.Run("text is rendered as text", func(t *testing.T) {
		use(t, alice, bob)
		evil := `<img src=x onerror="window.pwned=1"><b>bold</b>`
		alice.send(evil)
		bob.waitMessage("alice", evil)
		if n := evalJS[int](bob, `document.querySelectorAll('#messages img, #messages b').length`); n != 0 {
			t.Errorf("message markup became %d elements", n)
		}
		if evalJS[bool](bob, `window.pwned === 1`) {
			t.Error("script in a message ran")
		}
	})

	t.Run("reconnects after a server restart", func(t *testing.T) {
		use(t, alice, bob)
		p := port(srv)
		stopServer(t, srv)
		for _, pg := range []*page{alice, bob} {
			pg.wait("reconnecting status", `document.getElementById('conn-status').dataset.state === 'reconnecting' &&
				/Reconnecting/.test(document.getElementById('conn-status').textContent)`)
		}
		var err error
		srv, err = runServer("127.0.0.1:" + strconv.Itoa(p))
		if err != nil {
			t.Fatalf("restart on port %d: %v", p, err)
		}
		restarted := srv
		outer.Cleanup(func() { stopServer(outer, restarted) })
		for _, pg := range []*page{alice, bob} {
			pg.waitFor("connected again", `document.getElementById('conn-status').dataset.state === 'connected'`, 20*time.Second)
			pg.waitNotice("Reconnected")
		}
		// The lobby died with the old server: both are back in global.
		alice.waitRoom("global")
		bob.waitRoom("global")
		bob.wait("kept the new nickname", `document.getElementById('me-nick').textContent === 'bobby'`)
		alice.waitUsers("alice", "bobby")
		alice.send("back again")
		bob.waitMessage("alice", "back again")
		bob.send("me too")
		alice.waitMessage("bobby", "me too")
	})

	t.Run("session replaced, then reload rejoins the room", func(t *testing.T) {
		use(t, alice, bob)
		alice.typeEnter("new-room-input", "den")
		alice.waitRoom("den")
		bob.wait("den listed", `!!document.querySelector('#room-list button[data-room="den"]')`)
		bob.clickRoom("den")
		bob.waitRoom("den")
		alice.waitUsers("alice", "bobby")

		// Another connection with bob's stored token takes over: bob's page
		// is closed with 4409 and must say so and not reconnect.
		tok := evalJS[string](bob, `window.icsClient.token`)
		c, err := wstest.DialToken(srv.Addr().String(), tok)
		if err != nil {
			t.Fatalf("dial with bob's token: %v", err)
		}
		defer c.Close()
		c.Nick = "bobby(go)"
		bob.wait("replaced notice", `!document.getElementById('login-view').hidden && /replaced/.test(document.getElementById('ended-notice').textContent)`)
		if err := c.Send("switchroom", map[string]any{"room": "den"}, nil); err != nil {
			t.Fatal(err)
		}
		for {
			if f, _ := c.Until(t, "joined"); f.Str("room") == "den" {
				break
			}
		}
		time.Sleep(time.Second)
		if st := evalJS[string](bob, `document.getElementById('conn-status').dataset.state`); st != "offline" {
			t.Errorf("after 4409 the page is %q, want offline (no reconnect)", st)
		}

		// A reload resumes the tab's session with the stored token and goes
		// back to the room it was in.
		alice.do(chromedp.Reload())
		alice.waitConnected()
		alice.waitRoom("den")
		alice.waitUsers("alice", "bobby")
		if got := evalJS[string](alice, `document.getElementById('me-nick').textContent`); got != "alice" {
			t.Errorf("after reload the nickname is %q", got)
		}
	})

	t.Run("leave", func(t *testing.T) {
		use(t, alice, bob)
		alice.do(chromedp.Click(chromedp.ID("exit-button")))
		alice.wait("ended notice", `!document.getElementById('login-view').hidden && /left/.test(document.getElementById('ended-notice').textContent)`)
		time.Sleep(800 * time.Millisecond)
		if st := evalJS[string](alice, `document.getElementById('conn-status').dataset.state`); st != "offline" {
			t.Errorf("after exit the page is %q, want offline", st)
		}
		// The nickname is free again.
		if _, status, err := wstest.Auth(srv.Addr().String(), "alice"); err != nil || status != http.StatusCreated {
			t.Errorf("auth alice after exit: %d %v", status, err)
		}
	})

	t.Logf("browser scenarios took %s", time.Since(start).Round(time.Millisecond))
}
