package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
)

// authFrom is POST /auth?nickname=nick from source address src (a 127.x.y.z
// address, "" for the default) with origin (none when ""). It returns the
// status, the error code and the token.
func authFrom(t testing.TB, addr, src, origin, nick string) (int, string, string) {
	t.Helper()
	d := &net.Dialer{Timeout: 2 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 5 * time.Second}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/auth?nickname="+url.QueryEscape(nick), nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token, Code string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Code, body.Token
}

// An /auth claim whose token is not used is released after -claim-ttl, not
// at token expiry; the token still reclaims the name at /ws while it is free.
func TestUnusedClaimExpiresAfterClaimTTL(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.ClaimTTL = 300 * time.Millisecond })
	addr := srv.Addr().String()
	st, _, tok := authFrom(t, addr, "", "", "fleeting")
	if st != 201 {
		t.Fatalf("auth %d", st)
	}
	if st, _, _ := authFrom(t, addr, "", "", "fleeting"); st != 409 {
		t.Fatalf("second claim inside the window: %d, want 409", st)
	}
	waitFor(t, "the unused claim to expire", func() bool { return srv.Shards().PendingClaims() == 0 })
	// The name is free again, and the first token takes it at /ws.
	c, err := wstest.DialToken(addr, tok)
	if err != nil {
		t.Fatalf("token after its claim expired, name free: %v", err)
	}
	c.Close()
}

// Unused claims are capped per client address and in total (429
// too_many_claims); using a claim gives its slot back.
func TestClaimCaps(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		srv := start(t, func(c *config.Config) { c.MaxClaimsPerIP = 2 })
		addr := srv.Addr().String()
		_, _, tok := authFrom(t, addr, "127.0.0.9", "", "squat1")
		authFrom(t, addr, "127.0.0.9", "", "squat2")
		if st, code, _ := authFrom(t, addr, "127.0.0.9", "", "squat3"); st != 429 || code != command.ErrTooManyClaims {
			t.Fatalf("3rd claim from one address: %d %q, want 429 %s", st, code, command.ErrTooManyClaims)
		}
		if st, _, _ := authFrom(t, addr, "127.0.0.10", "", "squat3"); st != 201 {
			t.Fatalf("another address: %d", st)
		}
		c, err := wstest.DialToken(addr, tok)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		waitFor(t, "used claim to free its slot", func() bool {
			st, _, _ := authFrom(t, addr, "127.0.0.9", "", "squat4")
			return st == 201
		})
	})
	t.Run("total", func(t *testing.T) {
		srv := start(t, func(c *config.Config) { c.MaxClaims = 2 })
		addr := srv.Addr().String()
		authFrom(t, addr, "127.0.0.11", "", "tot1")
		authFrom(t, addr, "127.0.0.12", "", "tot2")
		if st, code, _ := authFrom(t, addr, "127.0.0.13", "", "tot3"); st != 429 || code != command.ErrTooManyClaims {
			t.Fatalf("claim past the total: %d %q", st, code)
		}
	})
}

// /auth refuses a browser Origin that /ws would refuse.
func TestAuthChecksOrigin(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	tests := []struct {
		origin string
		status int
	}{
		{"https://evil.example", 403},
		{"null", 403},
		{"http://" + addr, 201},
		{"", 201},
	}
	for i, tt := range tests {
		st, code, _ := authFrom(t, addr, "", tt.origin, "orig"+string(rune('a'+i))+"x")
		if st != tt.status || (st == 403 && code != command.ErrOriginNotAllowed) {
			t.Errorf("Origin %q: %d %q, want %d", tt.origin, st, code, tt.status)
		}
	}
}

// `system` is reserved in any case, and nicknames are unique regardless of
// case while keeping the case they were given.
func TestReservedAndCaseInsensitiveNames(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	for _, n := range []string{"system", "SyStem", "SYSTEM"} {
		if st, code, _ := authFrom(t, addr, "", "", n); st != 400 || code != command.ErrReservedName {
			t.Errorf("/auth %s: %d %q, want 400 %s", n, st, code, command.ErrReservedName)
		}
	}
	alice := wstest.Dial(t, addr, "Alice")
	if st, code, _ := authFrom(t, addr, "", "", "alice"); st != 409 {
		t.Errorf("/auth alice while Alice is held: %d %q, want 409", st, code)
	}
	bob := wstest.Dial(t, addr, "bob")
	tests := []struct{ nick, code string }{
		{"System", command.ErrReservedName},
		{"ALICE", command.ErrNicknameTaken},
	}
	for _, tt := range tests {
		if err := bob.Send("setnick", map[string]any{"nickname": tt.nick}, "x"); err != nil {
			t.Fatal(err)
		}
		f, _ := bob.Until(t, "error")
		if f.Str("code") != tt.code {
			t.Errorf("setnick %s: %v, want %s", tt.nick, f, tt.code)
		}
	}
	if err := alice.Send("listusers", nil, nil); err != nil {
		t.Fatal(err)
	}
	f, _ := alice.Until(t, "users")
	if got := f.Strings("users"); len(got) != 2 || got[0] != "Alice" {
		t.Errorf("users %v: want the case kept", got)
	}
}

// A kick revokes every token the connection used, not only the last: the
// token of the name it had before a setnick cannot come back either.
func TestKickRevokesEveryToken(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	c := wstest.Dial(t, addr, "evader")
	if err := c.Send("setnick", map[string]any{"nickname": "evader2"}, nil); err != nil {
		t.Fatal(err)
	}
	f, _ := c.Until(t, "nick")
	newTok := f.Str("token")
	if err := srv.Shards().Kick(context.Background(), "evader2", "bye"); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.ExpectClose(t, 5*time.Second); code != command.CloseKicked {
		t.Fatalf("closed %d, want %d", code, command.CloseKicked)
	}
	for name, tok := range map[string]string{"first token": c.Token, "setnick token": newTok} {
		waitFor(t, name+" refused", func() bool {
			d, err := wstest.DialToken(addr, tok)
			if err == nil {
				d.Close()
				return false
			}
			var de *wstest.DialError
			return errors.As(err, &de) && de.Status == 401
		})
	}
}

// listrooms answers from a cached sorted list, which every room creation,
// first join, last leave and deletion invalidates.
func TestListRoomsCacheFollowsChanges(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Shards = 4 })
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "lister")
	b := wstest.Dial(t, addr, "mover")
	list := func() []string {
		t.Helper()
		if err := a.Send("listrooms", nil, nil); err != nil {
			t.Fatal(err)
		}
		f, _ := a.Until(t, "rooms")
		return f.Strings("rooms")
	}
	steps := []struct {
		cmd, room string
		want      []string
	}{
		{"", "", []string{"global"}},
		{"createroom", "zeta", []string{"global", "zeta"}},
		{"createroom", "alpha", []string{"alpha", "global"}}, // zeta emptied: deleted
		{"switchroom", "global", []string{"global"}},
	}
	for _, st := range steps {
		if st.cmd != "" {
			if err := b.Send(st.cmd, map[string]any{"room": st.room, "name": st.room}, nil); err != nil {
				t.Fatal(err)
			}
			b.Until(t, "joined")
		}
		got := list()
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Fatalf("after %s %s: rooms %v, want %v", st.cmd, st.room, got, st.want)
		}
		if again := list(); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("cached answer %v differs from %v", again, got)
		}
	}
}

// listrooms goes through the shard inbox limit like every client command:
// a burst past -shard-inbox is answered server_busy, and every listrooms
// gets exactly one answer.
func TestListRoomsBusy(t *testing.T) {
	srv := start(t, func(c *config.Config) {
		noLimits(c)
		c.Shards, c.ShardInbox = 1, 1
	})
	c := wstest.Dial(t, srv.Addr().String(), "busylister")
	const n = 300
	var burst []byte
	for i := range n {
		burst = append(burst, frameBytes(t, fmt.Sprintf(`{"type":"listrooms","id":"%d"}`, i))...)
	}
	if _, err := c.Conn.Write(burst); err != nil {
		t.Fatal(err)
	}
	rooms, busy := 0, 0
	for rooms+busy < n {
		f, err := c.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d rooms and %d busy: %v", rooms, busy, err)
		}
		switch {
		case f.Type() == "rooms":
			rooms++
		case f.Type() == "error" && f.Str("code") == command.ErrServerBusy:
			busy++
		}
	}
	if busy == 0 {
		t.Fatalf("%d listrooms in one burst at -shard-inbox 1: none answered server_busy", n)
	}
}
