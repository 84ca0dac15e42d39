package gorillahub

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func dial(t *testing.T, srv *httptest.Server, nick string, viaQuery bool) *websocket.Conn {
	t.Helper()
	resp, err := http.Post(srv.URL+"/auth?nickname="+nick, "", nil)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("auth %q: status %v err %v", nick, resp, err)
	}
	resp.Body.Close()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	d := websocket.Dialer{}
	var hdr http.Header
	if viaQuery {
		u += "?token=" + nick
	} else {
		d.Subprotocols = []string{"ics.v1", nick}
	}
	c, resp, err := d.Dial(u, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	if !viaQuery && resp.Header.Get("Sec-WebSocket-Protocol") != "ics.v1" {
		t.Fatalf("subprotocol echo = %q, want ics.v1", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	return c
}

func TestHub(t *testing.T) {
	hub := New(Options{})
	srv := httptest.NewServer(hub)
	defer srv.Close()
	defer hub.Close()

	a := dial(t, srv, "alice", false)
	b := dial(t, srv, "bob", true)
	tests := []struct {
		name   string
		conn   *websocket.Conn
		send   string
		reader *websocket.Conn
		want   string
	}{
		{"create room", a, `{"type":"createroom","args":{"name":"r1"}}`, a, `"type":"joined"`},
		{"switch room", b, `{"type":"switchroom","args":{"room":"r1"}}`, b, `"nickname":"bob"`},
		{"message reaches member", a, `{"type":"message","args":{"body":"hi"}}`, b, `"body":"hi"`},
		{"bad json", a, `{`, a, `"code":"bad_json"`},
		{"missing room", b, `{"type":"switchroom","args":{"room":"nope"}}`, b, `"code":"room_not_found"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.conn.WriteMessage(websocket.TextMessage, []byte(tc.send)); err != nil {
				t.Fatalf("write %s: %v", tc.send, err)
			}
			_ = tc.reader.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				_, msg, err := tc.reader.ReadMessage()
				if err != nil {
					t.Fatalf("waiting for %s: %v", tc.want, err)
				}
				if strings.Contains(string(msg), tc.want) {
					return
				}
			}
		})
	}
	a.Close()
	b.Close()
}
