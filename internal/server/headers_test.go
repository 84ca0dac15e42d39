package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ics-chat/ics/internal/config"
)

// The browser client is served with headers that forbid framing, inline
// script and MIME sniffing, and leak no referrer.
func TestSecurityHeadersOnClient(t *testing.T) {
	srv := start(t, nil)
	for _, path := range []string{"/", "/app.js"} {
		resp, err := http.Get("http://" + srv.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline script: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
}

// -metrics-listen moves /metrics off the public port.
func TestMetricsOnOwnListener(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" })
	pub, priv := srv.Addr().String(), srv.MetricsAddr().String()
	tests := []struct {
		addr, path string
		status     int
	}{
		{pub, "/metrics", 404},
		{priv, "/metrics", 200},
		{priv, "/healthz", 200},
		{pub, "/healthz", 200},
	}
	for _, tt := range tests {
		if st := get(t, tt.addr, tt.path); st != tt.status {
			t.Errorf("%s%s: %d, want %d", tt.addr, tt.path, st, tt.status)
		}
	}
}
