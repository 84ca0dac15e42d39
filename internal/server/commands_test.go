package server_test

import (
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
)

func TestCommandErrorsEchoID(t *testing.T) {
	srv := start(t, nil)
	c := wstest.Dial(t, srv.Addr().String(), "alice")
	tests := []struct {
		name string
		raw  string
		code string
		id   any
	}{
		{"malformed json", `{"type":`, "bad_json", nil},
		{"not an object", `[1,2]`, "bad_json", nil},
		{"unknown type", `{"type":"dance","id":"u1"}`, "unknown_type", "u1"},
		{"numeric id", `{"type":"dance","id":42}`, "unknown_type", float64(42)},
		{"missing type", `{"args":{}}`, "bad_args", nil},
		{"missing args", `{"type":"message","id":"m1"}`, "bad_args", "m1"},
		{"body not a string", `{"type":"message","args":{"body":5},"id":"m2"}`, "bad_args", "m2"},
		{"body too long", `{"type":"message","args":{"body":"` + strings.Repeat("x", 4097) + `"},"id":"m3"}`, "body_too_long", "m3"},
		{"bad room name", `{"type":"switchroom","args":{"room":"no spaces"},"id":"r1"}`, "invalid_name", "r1"},
		{"missing room", `{"type":"switchroom","args":{"room":"nowhere"},"id":"r2"}`, "room_not_found", "r2"},
		{"room exists", `{"type":"createroom","args":{"name":"global"},"id":"r3"}`, "room_exists", "r3"},
		{"bad nickname", `{"type":"setnick","args":{"nickname":"-x"},"id":"n1"}`, "invalid_name", "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.SendText([]byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			f := c.Expect(t, "error")
			if f.Str("code") != tt.code || f.Str("from") != "system" || f.Str("body") == "" {
				t.Fatalf("got %v, want code %q", f, tt.code)
			}
			if !reflect.DeepEqual(f["id"], tt.id) {
				t.Fatalf("id %#v, want %#v", f["id"], tt.id)
			}
		})
	}
	// The connection survived all of that.
	if err := c.Send("message", map[string]any{"body": "still here"}, nil); err != nil {
		t.Fatal(err)
	}
	if f := c.Expect(t, "message"); f.Str("body") != "still here" {
		t.Fatalf("got %v", f)
	}
}

func TestRoomsAndUsers(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	alice := wstest.Dial(t, addr, "alice")
	bob := wstest.Dial(t, addr, "bob")
	alice.Expect(t, "joined")

	// createroom moves the creator: global sees "left", the room sees "joined".
	if err := alice.Send("createroom", map[string]any{"name": "lounge"}, "c1"); err != nil {
		t.Fatal(err)
	}
	if f := alice.Expect(t, "left"); f.Str("room") != "global" || f.Str("nickname") != "alice" {
		t.Fatalf("alice got %v", f)
	}
	if f := alice.Expect(t, "joined"); f.Str("room") != "lounge" || f.Str("body") != "alice joined" {
		t.Fatalf("alice got %v", f)
	}
	if f := bob.Expect(t, "left"); f.Str("nickname") != "alice" || f.Str("room") != "global" {
		t.Fatalf("bob got %v", f)
	}

	// listrooms is sorted and echoes the id.
	if err := bob.Send("listrooms", nil, "lr"); err != nil {
		t.Fatal(err)
	}
	f := bob.Expect(t, "rooms")
	if got := f.Strings("rooms"); !reflect.DeepEqual(got, []string{"global", "lounge"}) || f.Str("id") != "lr" || f.Str("body") != "global\nlounge" {
		t.Fatalf("rooms %v", f)
	}

	// switchroom into lounge: alice sees bob join; messages stay in the room.
	if err := bob.Send("switchroom", map[string]any{"room": "lounge"}, nil); err != nil {
		t.Fatal(err)
	}
	bob.Expect(t, "left")
	if f := bob.Expect(t, "joined"); f.Str("room") != "lounge" {
		t.Fatalf("bob got %v", f)
	}
	if f := alice.Expect(t, "joined"); f.Str("nickname") != "bob" {
		t.Fatalf("alice got %v", f)
	}
	if err := bob.Send("listusers", nil, 9); err != nil {
		t.Fatal(err)
	}
	f = bob.Expect(t, "users")
	if got := f.Strings("users"); !reflect.DeepEqual(got, []string{"alice", "bob"}) || f["id"] != float64(9) || f.Str("body") != "alice\nbob" {
		t.Fatalf("users %v", f)
	}
	if err := bob.Send("switchroom", map[string]any{"room": "lounge"}, "again"); err != nil {
		t.Fatal(err)
	}
	if f := bob.Expect(t, "error"); f.Str("code") != "already_in_room" || f.Str("id") != "again" {
		t.Fatalf("got %v", f)
	}

	// The last member leaving deletes the room; global always stays.
	for _, c := range []*wstest.Client{alice, bob} {
		if err := c.Send("switchroom", map[string]any{"room": "global"}, nil); err != nil {
			t.Fatal(err)
		}
		c.Until(t, "joined")
	}
	if err := bob.Send("listrooms", nil, nil); err != nil {
		t.Fatal(err)
	}
	f, _ = bob.Until(t, "rooms")
	if got := f.Strings("rooms"); !reflect.DeepEqual(got, []string{"global"}) {
		t.Fatalf("rooms after everyone left: %v", got)
	}
	if err := bob.Send("switchroom", map[string]any{"room": "lounge"}, nil); err != nil {
		t.Fatal(err)
	}
	if f, _ := bob.Until(t, "error"); f.Str("code") != "room_not_found" {
		t.Fatalf("got %v", f)
	}
}

func TestSetNick(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	alice := wstest.Dial(t, addr, "alice")
	bob := wstest.Dial(t, addr, "bob")
	alice.Expect(t, "joined")

	if err := alice.Send("setnick", map[string]any{"nickname": "bob"}, "n0"); err != nil {
		t.Fatal(err)
	}
	if f := alice.Expect(t, "error"); f.Str("code") != "nickname_taken" || f.Str("id") != "n0" {
		t.Fatalf("got %v", f)
	}
	if err := alice.Send("setnick", map[string]any{"nickname": "alicia"}, "n1"); err != nil {
		t.Fatal(err)
	}
	own := alice.Expect(t, "nick")
	if own.Str("old") != "alice" || own.Str("nickname") != "alicia" || own.Str("token") == "" || own.Str("id") != "n1" {
		t.Fatalf("own copy %v", own)
	}
	other := bob.Expect(t, "nick")
	if other.Str("old") != "alice" || other.Str("nickname") != "alicia" || other["token"] != nil || other["id"] != nil {
		t.Fatalf("bob's copy %v", other)
	}
	// Messages now carry the new name.
	if err := alice.Send("message", map[string]any{"body": "renamed"}, nil); err != nil {
		t.Fatal(err)
	}
	if f := bob.Expect(t, "message"); f.Str("from") != "alicia" {
		t.Fatalf("got %v", f)
	}
	// The old nickname is free at once; the new one is not.
	if _, st, _ := wstest.Auth(addr, "alice"); st != http.StatusCreated {
		t.Fatalf("old nickname not freed: %d", st)
	}
	if _, st, _ := wstest.Auth(addr, "alicia"); st != http.StatusConflict {
		t.Fatalf("new nickname not held: %d", st)
	}
	// The fresh token works for a reconnect under the new name.
	alice.Close()
	bob.Expect(t, "left")
	c, err := wstest.DialToken(addr, own.Str("token"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if f := c.Expect(t, "joined"); f.Str("nickname") != "alicia" {
		t.Fatalf("got %v", f)
	}
}

func TestExitFreesNicknameAndRevokesToken(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	alice := wstest.Dial(t, addr, "alice")
	bob := wstest.Dial(t, addr, "bob")
	alice.Expect(t, "joined")
	if err := bob.Send("exit", map[string]any{"room": "ignored"}, nil); err != nil {
		t.Fatal(err)
	}
	if code, _ := bob.ExpectClose(t, 5e9); code != 1000 {
		t.Fatalf("close %d, want 1000", code)
	}
	if f := alice.Expect(t, "left"); f.Str("nickname") != "bob" {
		t.Fatalf("got %v", f)
	}
	_, err := wstest.DialToken(addr, bob.Token)
	var de *wstest.DialError
	if !errors.As(err, &de) || de.Status != http.StatusUnauthorized {
		t.Fatalf("reusing an exited token: %v, want 401", err)
	}
	if _, st, _ := wstest.Auth(addr, "bob"); st != http.StatusCreated {
		t.Fatalf("nickname not freed after exit: %d", st)
	}
}

func TestReconnectAndTakeover(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	alice := wstest.Dial(t, addr, "alice")

	// Same token while the old socket is still open: takeover, old gets 4409.
	again, err := wstest.DialToken(addr, alice.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if code, _ := alice.ExpectClose(t, 5e9); code != 4409 {
		t.Fatalf("old connection closed with %d, want 4409", code)
	}
	again.Nick = "alice"
	again.Until(t, "joined")

	// Disconnect frees the nickname; a still-valid token reclaims it while free.
	again.Close()
	waitFor(t, "alice's nickname to be freed", func() bool {
		tok, st, _ := wstest.Auth(addr, "alice")
		if st == http.StatusCreated {
			// Someone else (this new token) holds it now: the old
			// token must get 409 before the upgrade.
			_, err := wstest.DialToken(addr, alice.Token)
			var de *wstest.DialError
			if !errors.As(err, &de) || de.Status != http.StatusConflict {
				t.Fatalf("old token while nickname reserved by another: %v, want 409", err)
			}
			c, err := wstest.DialToken(addr, tok)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			return true
		}
		return false
	})
}

func TestPresenceLimitInBigRooms(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.PresenceMax = 2 })
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "pa")
	b := wstest.Dial(t, addr, "pb")
	a.Expect(t, "joined")           // room of 2: announced
	c := wstest.Dial(t, addr, "pc") // room of 3 > 2: only pc hears its own joined
	if err := c.Send("message", map[string]any{"body": "hello"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*wstest.Client{a, b} {
		if f := cl.Expect(t, "message"); f.Str("from") != "pc" {
			t.Fatalf("%s got %v, want pc's message and no joined event", cl.Nick, f)
		}
	}
	c.Expect(t, "message")
}

// Commands sent right behind a setnick (whose token is signed off the
// event loop) are answered after it, in the order they were sent: the
// message already carries the new name, and an error the event loop
// decides by itself does not overtake the nick frame, which comes from the
// room's shard.
func TestSetNickKeepsReplyOrder(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	alice := wstest.Dial(t, addr, "alice")
	sends := []struct {
		typ  string
		args map[string]any
		id   string
	}{
		{"setnick", map[string]any{"nickname": "alicia"}, "n1"},
		{"setnick", map[string]any{"nickname": "alicia"}, "n2"}, // hers now: refused on the loop
		{"message", map[string]any{"body": "after rename"}, "m1"},
		{"setnick", map[string]any{"nickname": "alba"}, "n3"},
		{"listusers", nil, "u1"},
	}
	for _, s := range sends {
		if err := alice.Send(s.typ, s.args, s.id); err != nil {
			t.Fatal(err)
		}
	}
	want := []struct{ typ, check string }{
		{"nick", "alicia"},
		{"error", "nickname_taken"},
		{"message", "alicia"},
		{"nick", "alba"},
		{"users", "alba"},
	}
	for i, w := range want {
		f, err := alice.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		var got string
		switch f.Type() {
		case "nick":
			got = f.Str("nickname")
		case "message":
			got = f.Str("from")
		case "error":
			got = f.Str("code")
		case "users":
			if slices.Contains(f.Strings("users"), w.check) {
				got = w.check
			}
		}
		if f.Type() != w.typ || got != w.check {
			t.Fatalf("reply %d: %v, want a %s frame with %s", i, f, w.typ, w.check)
		}
	}
}
