package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
)

func TestAuthRoute(t *testing.T) {
	srv := start(t, nil)
	base := "http://" + srv.Addr().String()
	if _, st, _ := wstest.Auth(srv.Addr().String(), "taken_name"); st != http.StatusCreated {
		t.Fatalf("setup auth: %d", st)
	}
	tests := []struct {
		name     string
		method   string
		target   string
		form     string
		status   int
		code     string
		wantNick string
	}{
		{"query", "POST", "/auth?nickname=alice", "", 201, "", "alice"},
		{"form field", "POST", "/auth", "nickname=bob", 201, "", "bob"},
		{"query wins over form", "POST", "/auth?nickname=carol", "nickname=dave", 201, "", "carol"},
		{"taken", "POST", "/auth?nickname=taken_name", "", 409, "nickname_taken", ""},
		{"too short", "POST", "/auth?nickname=a", "", 400, "invalid_name", ""},
		{"starts with digit", "POST", "/auth?nickname=1abc", "", 400, "invalid_name", ""},
		{"too long", "POST", "/auth?nickname=" + strings.Repeat("x", 33), "", 400, "invalid_name", ""},
		{"missing", "POST", "/auth", "", 400, "invalid_name", ""},
		{"wrong method", "GET", "/auth?nickname=erin", "", 405, "method_not_allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, base+tt.target, strings.NewReader(tt.form))
			if tt.form != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if tt.code != "" {
				if body["code"] != tt.code || body["error"] == "" {
					t.Fatalf("body %v, want code %q and an error text", body, tt.code)
				}
				return
			}
			if body["nickname"] != tt.wantNick || body["token"] == "" || body["expires_at"] == "" {
				t.Fatalf("body %v", body)
			}
		})
	}
}

func TestAuthRateLimited(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.AuthRate, c.AuthBurst = 1, 2 })
	var statuses []int
	for i := 0; i < 4; i++ {
		_, st, err := wstest.Auth(srv.Addr().String(), "user"+string(rune('a'+i))+"x")
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, st)
	}
	if statuses[0] != 201 || statuses[1] != 201 || statuses[3] != 429 {
		t.Fatalf("statuses %v, want 201 201 ... 429", statuses)
	}
}

func TestUpgradeTokenTransports(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	tests := []struct {
		name      string
		target    func(tok string) string
		protocols func(tok string) []string
		echo      func(tok string) string
	}{
		{"ics.v1 pair", func(string) string { return "/ws" },
			func(tok string) []string { return []string{"ics.v1", tok} },
			func(string) string { return "ics.v1" }},
		{"raw token", func(string) string { return "/ws" },
			func(tok string) []string { return []string{tok} },
			func(tok string) string { return tok }},
		{"bearer", func(string) string { return "/ws" },
			func(tok string) []string { return []string{"Bearer " + tok} },
			func(tok string) string { return "Bearer " + tok }},
		{"query", func(tok string) string { return "/ws?token=" + url.QueryEscape(tok) },
			func(string) []string { return nil },
			func(string) string { return "" }},
		{"query with ics.v1 offered", func(tok string) string { return "/ws?token=" + url.QueryEscape(tok) },
			func(string) []string { return []string{"ics.v1"} },
			func(string) string { return "ics.v1" }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nick := "transport" + string(rune('a'+i))
			tok, st, err := wstest.Auth(addr, nick)
			if err != nil || st != 201 {
				t.Fatalf("auth: %d %v", st, err)
			}
			c, err := wstest.DialProtocols(addr, tt.target(tok), tt.protocols(tok))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Nick = nick
			if c.Protocol != tt.echo(tok) {
				t.Fatalf("echoed protocol %q, want %q", c.Protocol, tt.echo(tok))
			}
			if f := c.Expect(t, "joined"); f.Str("nickname") != nick || f.Str("room") != "global" {
				t.Fatalf("got %v", f)
			}
		})
	}
}

func TestUpgradeRefusals(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.AllowedOrigins = []string{"https://chat.example"} })
	addr := srv.Addr().String()
	other, _, _ := wstest.Auth(addr, "someone")
	tests := []struct {
		name   string
		header http.Header
		target string
		status int
	}{
		{"no token", nil, "/ws", 401},
		{"garbage token", nil, "/ws?token=abc.def.ghi", 401},
		{"foreign origin", http.Header{"Origin": {"https://evil.example"}}, "/ws?token=" + other, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wstest.DialHeader(addr, tt.target, nil, tt.header)
			var de *wstest.DialError
			if !errors.As(err, &de) || de.Status != tt.status {
				t.Fatalf("err %v, want HTTP %d", err, tt.status)
			}
		})
	}
	t.Run("allowed origin", func(t *testing.T) {
		c, err := wstest.DialHeader(addr, "/ws?token="+other, nil, http.Header{"Origin": {"https://chat.example"}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	t.Run("plain GET /ws", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/ws")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		short := start(t, func(c *config.Config) { c.TokenTTL = 1 })
		tok, st, _ := wstest.Auth(short.Addr().String(), "ephemeral")
		if st != 201 {
			t.Fatalf("auth %d", st)
		}
		_, err := wstest.DialToken(short.Addr().String(), tok)
		var de *wstest.DialError
		if !errors.As(err, &de) || de.Status != 401 {
			t.Fatalf("err %v, want 401", err)
		}
	})
}

func TestUnusedTokenFreesNicknameAtExpiry(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.TokenTTL = 1500 * time.Millisecond })
	addr := srv.Addr().String()
	if _, st, _ := wstest.Auth(addr, "fleeting"); st != 201 {
		t.Fatalf("auth %d", st)
	}
	if _, st, _ := wstest.Auth(addr, "fleeting"); st != 409 {
		t.Fatalf("second auth before expiry: %d, want 409", st)
	}
	// Token expiry is whole seconds: wait past it.
	time.Sleep(2100 * time.Millisecond)
	if _, st, _ := wstest.Auth(addr, "fleeting"); st != 201 {
		t.Fatalf("auth after the unused token expired: %d, want 201", st)
	}
}
