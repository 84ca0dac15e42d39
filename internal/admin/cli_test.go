package admin_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ics-chat/ics/internal/admin/cli"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/wstest"
	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

func TestCLI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{token: "cli-token"})
	alice := wstest.Dial(t, e.addr, "alice")
	bob := wstest.Dial(t, e.addr, "bob")
	addr := e.adm.Addr().String()
	env := func(k string) (string, bool) {
		if k == "ICS_ADMIN_TOKEN" {
			return "cli-token", true
		}
		return "", false
	}
	run := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append(args[:1:1], append([]string{"-addr", addr}, args[1:]...)...)
		if code := cli.Run(args, env, &out, &errb); code != want {
			t.Fatalf("server admin %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}

	out := run(0, "stats")
	for _, s := range []string{"version ", "SHARD", "FRAMES/WRITE", "RATE-CLOSES", "SOCKETS", "connections 2 (sockets ", "METRIC", "ics_upgrades_rejected_total ", "ics_http_requests_total ", "ics_loop_commands_total "} {
		if !strings.Contains(out, s) {
			t.Errorf("stats table lacks %q:\n%s", s, out)
		}
	}
	// The METRIC section: one row per metric, its per-loop values side by
	// side (two loops, alice and bob connected).
	if row := lineOf(out, "ics_websocket_connections "); len(row) != 4 || row[1] != "loop=0..1" || atof(t, row[2])+atof(t, row[3]) != 2 {
		t.Errorf("stats: websocket connections row %q, want loop=0..1 and values adding up to 2", row)
	}
	// A single node lists itself as the only node of its "cluster".
	out = run(0, "nodes")
	if !strings.Contains(out, "NODE") || !strings.Contains(out, e.addr) || !strings.Contains(out, "(this node)") {
		t.Errorf("nodes: %s", out)
	}
	out = run(0, "create-room", "lobby")
	if !strings.Contains(out, "created room lobby on shard") {
		t.Errorf("create-room: %s", out)
	}
	var rooms adminv1.ListRoomsResponse
	if err := protojson.Unmarshal([]byte(run(0, "rooms", "-json")), &rooms); err != nil {
		t.Fatal(err)
	}
	if len(rooms.Rooms) != 2 || rooms.Rooms[0].Name != "global" || rooms.Rooms[0].MemberCount != 2 || rooms.Rooms[1].Name != "lobby" {
		t.Errorf("rooms -json: %v", rooms.Rooms)
	}
	out = run(0, "users", "-room", "global")
	if !strings.Contains(out, "NICKNAME") || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Errorf("users: %s", out)
	}
	if out := run(0, "broadcast", "-room", "global", "hello", "there"); !strings.Contains(out, "sent to 2 connections in 1 room\n") {
		t.Errorf("broadcast: %q", out)
	}
	for _, c := range []*wstest.Client{alice, bob} {
		f, _ := c.Until(t, "message")
		if f.Str("from") != "system" || f.Str("body") != "hello there" {
			t.Fatalf("%s: %v", c.Nick, f)
		}
	}
	// Flags after the argument work too.
	run(0, "kick", "bob", "-reason", "bye bob")
	if code, reason := bob.ExpectClose(t, 3*time.Second); code != command.CloseKicked || reason != "bye bob" {
		t.Fatalf("bob closed %d %q", code, reason)
	}
	if out := run(1, "kick", "bob"); !strings.Contains(out, "NotFound") {
		t.Errorf("kick unknown: %s", out)
	}
	if out := run(1, "stats", "-token", "wrong"); !strings.Contains(out, "Unauthenticated") {
		t.Errorf("wrong token: %s", out)
	}
	run(2, "frobnicate")
	run(2, "kick")
	out = run(0, "watch", "-count", "2", "-interval", "100ms", "-json")
	if n := strings.Count(strings.TrimSpace(out), "\n") + 1; n != 2 {
		t.Errorf("watch -count 2 printed %d lines:\n%s", n, out)
	}
	run(0, "delete-room", "lobby")
	out = run(0, "drain", "-drain-timeout", "3s")
	if !strings.Contains(out, "drained: 0 connections still open") {
		t.Errorf("drain: %s", out)
	}
	if code, _ := alice.ExpectClose(t, 3*time.Second); code != command.CloseServiceRestart {
		t.Fatalf("alice closed %d", code)
	}
}

// lineOf returns the fields of the first line of out that starts with prefix.
func lineOf(out, prefix string) []string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return strings.Fields(l)
		}
	}
	return nil
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
