package web_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
)

// TestBigRoomUserListPages: in a room bigger than one page of listusers,
// the page lists the first page, counts the whole room, and "Show more"
// adds the rest in order, once.
func TestBigRoomUserListPages(t *testing.T) {
	browser := newBrowser(t)
	srv := startServerWith(t, "127.0.0.1:0", func(c *config.Config) {
		c.AuthRate, c.AuthBurst = 1e6, 1e6
		c.MaxConnsPerIP, c.MaxClaimsPerIP = 0, 0
	})
	addr := srv.Addr().String()
	const others = 250 // the page asks 200 names at a time
	for i := range others {
		wstest.Dial(t, addr, fmt.Sprintf("u%03d", i))
	}
	p := newPage(t, browser, "viewer")
	p.open("http://" + addr + "/")
	// zviewer sorts last: on the second page, so not "self in the list" yet.
	p.typeEnter("nickname-input", "zviewer")
	p.waitConnected()
	p.wait("first page of 200 and the room's size", `document.querySelectorAll('#user-list li').length === 200 &&
		document.getElementById('user-count').textContent === '(251)' && !document.getElementById('users-more').hidden`)
	if got := evalJS[string](p, `document.getElementById('users-more').textContent`); got != "Show 51 more of 51" {
		t.Errorf("more button says %q", got)
	}
	p.do(chromedp.Click(chromedp.CSS("#users-more")))
	p.wait("all 251 listed, the button gone", `document.querySelectorAll('#user-list li').length === 251 && document.getElementById('users-more').hidden`)
	names := evalJS[[]string](p, `[...document.querySelectorAll('#user-list li')].map(li => li.dataset.nick)`)
	for i, n := range names[:others] {
		if want := fmt.Sprintf("u%03d", i); n != want {
			t.Fatalf("name %d is %q, want %q (in order, each once)", i, n, want)
		}
	}
	if names[others] != "zviewer" {
		t.Fatalf("last name %q, want zviewer", names[others])
	}
}
