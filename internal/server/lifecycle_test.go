package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/wstest"
)

func TestDrainClosesEveryClientWith1012(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	var clients []*wstest.Client
	for _, n := range []string{"d1", "d2", "d3", "d4"} {
		clients = append(clients, wstest.Dial(t, addr, n))
	}
	if st := get(t, addr, "/readyz"); st != 200 {
		t.Fatalf("readyz %d before drain", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if code, _ := c.ExpectClose(t, 5*time.Second); code != 1012 {
			t.Fatalf("%s closed with %d, want 1012", c.Nick, code)
		}
	}
	if st := get(t, addr, "/readyz"); st != 503 {
		t.Fatalf("readyz %d while draining, want 503", st)
	}
	if st := get(t, addr, "/healthz"); st != 200 {
		t.Fatalf("healthz %d while draining, want 200", st)
	}
	// No new upgrades, no new tokens.
	if _, st, _ := wstest.Auth(addr, "latecomer"); st != 503 {
		t.Fatalf("auth while draining: %d, want 503", st)
	}
	tok := clients[0].Token
	_, err := wstest.DialToken(addr, tok)
	var de *wstest.DialError
	if !asDial(err, &de) || de.Status != 503 {
		t.Fatalf("upgrade while draining: %v, want 503", err)
	}
}

func get(t testing.TB, addr, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
