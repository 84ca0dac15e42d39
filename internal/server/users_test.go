package server_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/ics-chat/ics/internal/wstest"
)

// listusers pages through a room in name order: each page has at most
// limit names after `after`, `total` is the room's size and `more` says
// whether names follow. Joins, renames and leaves between pages show in the
// next reply (the server keeps the sorted list and its encoded first page
// per room, and must drop the cached page on every change).
func TestListUsersPages(t *testing.T) {
	t.Parallel()
	srv := start(t, nil)
	addr := srv.Addr().String()
	var cs []*wstest.Client
	for _, n := range []string{"gus", "cat", "eve", "ann", "fay", "bob", "dan"} {
		cs = append(cs, wstest.Dial(t, addr, "u_"+n))
	}
	ask := func(t *testing.T, c *wstest.Client, args map[string]any) wstest.Frame {
		t.Helper()
		if err := c.Send("listusers", args, "p"); err != nil {
			t.Fatal(err)
		}
		f, _ := c.Until(t, "users")
		return f
	}
	all := []string{"u_ann", "u_bob", "u_cat", "u_dan", "u_eve", "u_fay", "u_gus"}
	for _, tc := range []struct {
		name  string
		args  map[string]any
		users []string
		more  bool
	}{
		{"everyone (default limit)", nil, all, false},
		{"first page", map[string]any{"limit": 3}, all[:3], true},
		{"second page", map[string]any{"after": "u_cat", "limit": 3}, all[3:6], true},
		{"last page", map[string]any{"after": "u_fay", "limit": 3}, all[6:], false},
		{"after a name not in the room", map[string]any{"after": "u_c", "limit": 2}, all[2:4], true},
		{"after the last name", map[string]any{"after": "u_zz"}, []string{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ask(t, cs[0], tc.args)
			if got := f.Strings("users"); !reflect.DeepEqual(got, tc.users) || f["more"] != tc.more || f["total"] != float64(len(all)) || f.Str("id") != "p" {
				t.Fatalf("users %v more %v total %v id %v, want %v more %v total %d", got, f["more"], f["total"], f["id"], tc.users, tc.more, len(all))
			}
		})
	}

	// The cached first page follows the room: a rename, a leave, a join.
	ask(t, cs[1], nil) // cache the full first page
	if err := cs[0].Send("setnick", map[string]any{"nickname": "u_zed"}, nil); err != nil {
		t.Fatal(err)
	}
	cs[0].Until(t, "nick")
	if err := cs[2].Send("exit", nil, nil); err != nil {
		t.Fatal(err)
	}
	cs[1].Until(t, "left")
	late := wstest.Dial(t, addr, "u_amy")
	cs[1].Until(t, "joined")
	want := []string{"u_amy", "u_ann", "u_bob", "u_cat", "u_dan", "u_fay", "u_zed"}
	if f := ask(t, cs[1], nil); !reflect.DeepEqual(f.Strings("users"), want) || f["total"] != float64(len(want)) {
		t.Fatalf("after rename, leave and join: users %v total %v, want %v", f.Strings("users"), f["total"], want)
	}
	if f := ask(t, late, map[string]any{"after": "u_dan"}); !reflect.DeepEqual(f.Strings("users"), want[5:]) {
		t.Fatalf("page after u_dan: %v, want %v", f.Strings("users"), want[5:])
	}
}

// Bad listusers arguments get bad_args with the id, and the connection
// stays usable.
func TestListUsersBadArgs(t *testing.T) {
	t.Parallel()
	srv := start(t, nil)
	c := wstest.Dial(t, srv.Addr().String(), "u_solo")
	for i, args := range []map[string]any{
		{"limit": 0},
		{"limit": 1001},
		{"limit": "10"},
		{"limit": 2.5},
		{"after": 7},
	} {
		id := fmt.Sprint("b", i)
		if err := c.Send("listusers", args, id); err != nil {
			t.Fatal(err)
		}
		f, _ := c.Until(t, "error")
		if f.Str("code") != "bad_args" || f.Str("id") != id {
			t.Fatalf("args %v: got %v, want bad_args with id %s", args, f, id)
		}
	}
	if err := c.Send("listusers", map[string]any{"limit": 1000}, "ok"); err != nil {
		t.Fatal(err)
	}
	if f, _ := c.Until(t, "users"); !reflect.DeepEqual(f.Strings("users"), []string{"u_solo"}) || f["more"] != false {
		t.Fatalf("got %v", f)
	}
}
