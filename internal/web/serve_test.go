package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestServesClientAndAssets(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0")
	base := "http://" + srv.Addr().String()

	resp, body := get(t, base+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET /: Content-Type %q", ct)
	}
	for _, want := range []string{`src="app.js"`, `href="style.css"`, `id="login-form"`, `role="log"`, `aria-live="polite"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /: page lacks %s", want)
		}
	}
	// Relative asset URLs only, so the page works behind a path prefix.
	for _, bad := range []string{`src="/`, `href="/`, `src="http`, `href="http`} {
		if strings.Contains(body, bad) {
			t.Errorf("GET /: page contains %q (absolute URL)", bad)
		}
	}

	for _, a := range []struct{ path, ctype, contains string }{
		{"/app.js", "text/javascript", "new WebSocket("},
		{"/style.css", "text/css", "@media"},
		{"/index.html", "text/html", "<title>"},
	} {
		resp, body := get(t, base+a.path)
		if resp.StatusCode != http.StatusOK && !(a.path == "/index.html" && resp.StatusCode == http.StatusMovedPermanently) {
			t.Errorf("GET %s: status %d", a.path, resp.StatusCode)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, a.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", a.path, ct, a.ctype)
		}
		if !strings.Contains(body, a.contains) {
			t.Errorf("GET %s: body lacks %q", a.path, a.contains)
		}
	}

	// The client never injects user data as HTML.
	_, js := get(t, base+"/app.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}

	if resp, _ := get(t, base+"/nope.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope.js: status %d, want 404", resp.StatusCode)
	}
}
