package loadgen

import (
	"bytes"
	"strconv"

	"github.com/ics-chat/ics/internal/command"
)

// CompatCentrifugo selects Centrifugo's JSON client protocol over WebSocket
// (/connection/websocket, no /auth: the server must run in insecure client
// mode, loopback only): each connection sends connect and subscribes to its
// room's channel; publishers send publish commands; deliveries arrive as
// push frames, several per WebSocket message separated by newlines.
const CompatCentrifugo = "centrifugo"

// centrifugoPath is Centrifugo's WebSocket endpoint.
const centrifugoPath = "/connection/websocket"

// centrifugoJoin is what a connection sends once up: connect (id 1) and
// subscribe to its room (id 2), in one WebSocket message as Centrifugo
// allows.
func centrifugoJoin(cfg *Config, lc *lgConn) []byte {
	p := []byte(`{"id":1,"connect":{"name":"` + lc.nick + `"}}` + "\n" + `{"id":2,"subscribe":{"channel":"` + cfg.roomName(lc.room) + `"}}`)
	return appendFrame(nil, command.OpText, p)
}

// appendCentrifugoPublish appends the publish command carrying one
// generated message to the room's channel.
func appendCentrifugoPublish(dst []byte, cfg *Config, room, pub int, seq uint64, intendedNs int64) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendUint(dst, seq+3, 10) // 1 and 2 are connect and subscribe
	dst = append(dst, `,"publish":{"channel":"`...)
	dst = append(dst, cfg.roomName(room)...)
	dst = append(dst, `","data":{"body":"`...)
	dst = appendBody(dst, pub, seq, intendedNs, cfg.Size)
	return append(dst, `"}}}`...)
}

var (
	needleSubscribed = []byte(`"id":2,"subscribe":`)
	needleCfError    = []byte(`"error":{`)
)

// onCentrifugo handles one WebSocket message from Centrifugo: each line is
// one reply or push. Caller holds lc.sh.mu.
func (lc *lgConn) onCentrifugo(p []byte) {
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		if lc.observe(line) {
			continue
		}
		lc.sh.other++
		switch {
		case bytes.Contains(line, needleSubscribed):
			lc.joined.Store(true)
		case bytes.Contains(line, needleCfError):
			lc.sh.errCodes["centrifugo_error"]++
		case bytes.Equal(line, []byte(`{}`)) && lc.gc != nil:
			// A ping: answer with a pong so the server keeps us.
			_, _ = lc.gc.Write(appendFrame(nil, command.OpText, []byte(`{}`)))
		}
	}
}
