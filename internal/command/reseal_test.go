package command

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// sealed is a message frame as a shard seals it (OpenMessage + SealMessage).
func sealed(body string, seq uint64) []byte {
	open := OpenMessage(make([]byte, 0, 64+len(body)+SealRoom), "alice", "lobby", body, 1700000000123)
	return SealMessage(open, seq)
}

// bodyFor returns a body that makes sealed(body, seq) a payload of exactly n bytes.
func bodyFor(t *testing.T, n int, seq uint64) string {
	t.Helper()
	_, p := splitFrame(t, sealed("", seq))
	if n < len(p) {
		t.Fatalf("payload %d is below the empty message's %d", n, len(p))
	}
	return strings.Repeat("b", n-len(p))
}

func TestReseal(t *testing.T) {
	system := AppendSystemMessage(nil, "lobby", "maintenance at noon", 1700000000123, 3)
	tests := []struct {
		name  string
		frame []byte
		seq   uint64
	}{
		{"short (7-bit length)", sealed("hi", 1), 2},
		{"medium (16-bit length)", sealed(strings.Repeat("m", 300), 41), 7},
		{"long (64-bit length)", sealed(strings.Repeat("l", 70000), 12345), 1},
		{"payload grows from 125 to 126 bytes: the header grows", sealed(bodyFor(t, 125, 9), 9), 10},
		{"payload shrinks from 126 to 125 bytes: the header shrinks", sealed(bodyFor(t, 126, 10), 10), 9},
		{"payload grows past 65535", sealed(bodyFor(t, 65535, 9), 9), 1 << 63},
		{"largest seq", sealed("x", 1), ^uint64(0)},
		{"a body that looks like a seq", sealed(`,"seq":5}`, 5), 6},
		{"unicode body", sealed("héllo \u2028 wörld", 2), 3},
		{"the server's own message", system, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := bytes.Clone(tt.frame)
			out, ok := Reseal(tt.frame, tt.seq)
			if !ok {
				t.Fatalf("Reseal refused a sealed message %q", tt.frame)
			}
			if !bytes.Equal(tt.frame, orig) {
				t.Fatalf("Reseal changed its input (shared with other members)")
			}
			want := jsonFrame(t, orig)
			want["seq"] = json.Number(strconv.FormatUint(tt.seq, 10))
			assertFields(t, jsonFrame(t, out), want)
		})
	}
}

func TestResealRefusesWhatIsNotASealedMessage(t *testing.T) {
	msg := sealed("hello", 5)
	tests := []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"one byte", []byte{0x81}},
		{"own joined (has a seq, then an epoch)", AppendOwnJoined(nil, "lobby", "alice", 5, "e-1")},
		{"left", AppendMembership(nil, FrameLeft, "lobby", "alice")},
		{"an open message (no seq yet)", finish(OpenMessage(nil, "alice", "lobby", "x", 1), OpText)},
		{"truncated", msg[:len(msg)-1]},
		{"longer than its header says", append(bytes.Clone(msg), '}')},
		{"16-bit header cut short", []byte{0x81, 126, 1}},
		{"64-bit header cut short", []byte{0x81, 127, 0, 0, 0}},
		{"masked", append([]byte{0x81, msg[1] | 0x80}, msg[2:]...)},
		{"binary opcode", append([]byte{0x82}, msg[1:]...)},
		{"not FIN", append([]byte{0x01}, msg[1:]...)},
		{"seq not a number", finish(append(begin(nil), `{"type":"message","from":"a","body":"b","room":"r","ts":1,"seq":x}`...), OpText)},
		{"seq with nothing after the key", finish(append(begin(nil), `{"type":"message","from":"a","body":"b","room":"r","ts":1,"seq":}`...), OpText)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out, ok := Reseal(tt.frame, 9); ok || out != nil {
				t.Fatalf("Reseal(%q) = %q, %v; want nil, false", tt.frame, out, ok)
			}
		})
	}
}
