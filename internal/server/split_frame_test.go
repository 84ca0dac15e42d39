package server_test

import (
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/ics-chat/ics/internal/wstest"
)

// A frame whose header and payload arrive in separate TCP reads must be
// reassembled, not dropped (gnet's Discard(0) discards everything).
func TestFrameSplitAcrossReads(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	alice := wstest.Dial(t, addr, "alice")
	payload := []byte(`{"type":"message","args":{"body":"split"}}`)
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(payload)), Masked: true, Mask: ws.NewMask()}
	ws.Cipher(payload, h.Mask, 0)
	if err := ws.WriteHeader(alice.Conn, h); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	half := len(payload) / 2
	if _, err := alice.Conn.Write(payload[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := alice.Conn.Write(payload[half:]); err != nil {
		t.Fatal(err)
	}
	if f := alice.Expect(t, "message"); f.Str("body") != "split" {
		t.Fatalf("got %v", f)
	}
}
