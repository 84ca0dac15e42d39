package server_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/ics-chat/ics/internal/wstest"
)

// A frame whose header and payload arrive in separate TCP reads must be
// parsed once it is complete (regression: the partial header was dropped).
func TestFrameSplitAcrossReads(t *testing.T) {
	srv := start(t, nil)
	alice := wstest.Dial(t, srv.Addr().String(), "alice")
	payload, _ := json.Marshal(map[string]any{"type": "message", "args": map[string]any{"body": "split"}})
	for _, cut := range []int{1, 2, 6, 10} {
		h := ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(payload)), Masked: true, Mask: ws.NewMask()}
		var buf bytes.Buffer
		if err := ws.WriteHeader(&buf, h); err != nil {
			t.Fatal(err)
		}
		p := append([]byte(nil), payload...)
		ws.Cipher(p, h.Mask, 0)
		frame := append(buf.Bytes(), p...)
		if _, err := alice.Conn.Write(frame[:cut]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if _, err := alice.Conn.Write(frame[cut:]); err != nil {
			t.Fatal(err)
		}
		if f := alice.Expect(t, "message"); f.Str("body") != "split" {
			t.Fatalf("cut %d: %v", cut, f)
		}
	}
}
