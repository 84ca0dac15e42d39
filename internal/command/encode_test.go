package command

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// splitFrame checks that f is one complete unmasked FIN server frame with the
// minimal length encoding and returns its opcode and payload.
func splitFrame(t *testing.T, f []byte) (op byte, payload []byte) {
	t.Helper()
	if len(f) < 2 {
		t.Fatalf("frame of %d bytes", len(f))
	}
	if f[0]&0x80 == 0 || f[0]&0x70 != 0 {
		t.Fatalf("first byte %#x: want FIN and no RSV bits", f[0])
	}
	if f[1]&0x80 != 0 {
		t.Fatalf("server frame is masked")
	}
	n, size := int(f[1]&0x7F), 2
	switch n {
	case 126:
		n, size = int(binary.BigEndian.Uint16(f[2:4])), 4
		if n <= 125 {
			t.Fatalf("16-bit length %d: not minimal", n)
		}
	case 127:
		u := binary.BigEndian.Uint64(f[2:10])
		if u>>63 != 0 || u <= 0xFFFF {
			t.Fatalf("64-bit length %d: not minimal or top bit set", u)
		}
		n, size = int(u), 10
	}
	if len(f) != size+n {
		t.Fatalf("frame is %d bytes, header %d + payload %d", len(f), size, n)
	}
	return f[0] & 0x0F, f[size:]
}

// jsonFrame checks f is a text frame with a JSON object payload and returns it.
func jsonFrame(t *testing.T, f []byte) map[string]any {
	t.Helper()
	op, p := splitFrame(t, f)
	if op != OpText {
		t.Fatalf("opcode %d, want text", op)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("payload %q: %v", p, err)
	}
	if dec.More() {
		t.Fatalf("trailing data after the object in %q", p)
	}
	return m
}

func assertFields(t *testing.T, m map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if !reflect.DeepEqual(m[k], v) {
			t.Errorf("field %q = %#v, want %#v", k, m[k], v)
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %q = %#v", k, m[k])
		}
	}
}

func TestAppendFramesLengths(t *testing.T) {
	// Payload sizes on each side of the 7-bit, 16-bit and 64-bit forms.
	for _, bodyLen := range []int{0, 10, 60, 125, 126, 1000, 65000, 65535, 65536, 70000, 200000} {
		body := strings.Repeat("x", bodyLen)
		f := AppendMessage([]byte("garbage"), "alice", "global", body, 1700000000123, 9)
		m := jsonFrame(t, f)
		assertFields(t, m, map[string]any{
			"type": "message", "from": "alice", "body": body, "room": "global", "ts": json.Number("1700000000123"), "seq": json.Number("9"),
		})
	}
	// Exact payload lengths at the boundaries.
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 65537} {
		p := bytes.Repeat([]byte{'a'}, n)
		f := finish(append(begin(nil), p...), OpText)
		op, got := splitFrame(t, f)
		if op != OpText || !bytes.Equal(got, p) {
			t.Fatalf("payload %d: op %d, %d bytes back", n, op, len(got))
		}
		wantHdr := 2
		if n > 125 {
			wantHdr = 4
		}
		if n > 0xFFFF {
			wantHdr = 10
		}
		if len(f)-n != wantHdr {
			t.Fatalf("payload %d: header %d bytes, want %d", n, len(f)-n, wantHdr)
		}
	}
}

func TestAppendFrames(t *testing.T) {
	id := []byte(`"req-7"`)
	for _, tc := range []struct {
		name  string
		frame []byte
		want  map[string]any
	}{
		{"message", AppendMessage(nil, "bob", "lobby", []byte("hi \"there\"\n"), 42, 1),
			map[string]any{"type": "message", "from": "bob", "body": "hi \"there\"\n", "room": "lobby", "ts": json.Number("42"), "seq": json.Number("1")}},
		{"system message", AppendSystemMessage(nil, "global", "maintenance at 5", -1, 18446744073709551615),
			map[string]any{"type": "message", "from": "system", "body": "maintenance at 5", "room": "global", "ts": json.Number("-1"), "server": true, "seq": json.Number("18446744073709551615")}},
		{"joined", AppendMembership(nil, "joined", "lobby", "alice"),
			map[string]any{"type": "joined", "from": "system", "body": "alice joined", "room": "lobby", "nickname": "alice"}},
		{"left", AppendMembership(nil, "left", "global", "a\"b"),
			map[string]any{"type": "left", "from": "system", "body": "a\"b left", "room": "global", "nickname": "a\"b"}},
		{"nick broadcast", AppendNick(nil, "old_name", "new_name", "lobby", "", nil),
			map[string]any{"type": "nick", "from": "system", "body": "old_name is now new_name", "old": "old_name", "nickname": "new_name", "room": "lobby"}},
		{"nick own copy", AppendNick(nil, "old", "new", "global", "tok.en.sig", id),
			map[string]any{"type": "nick", "from": "system", "body": "old is now new", "old": "old", "nickname": "new", "room": "global", "token": "tok.en.sig", "id": "req-7"}},
		{"users", AppendList(nil, "users", []string{"alice", "bob"}, id),
			map[string]any{"type": "users", "from": "system", "body": "alice\nbob", "users": []any{"alice", "bob"}, "id": "req-7"}},
		{"rooms empty", AppendList(nil, "rooms", nil, nil),
			map[string]any{"type": "rooms", "from": "system", "body": "", "rooms": []any{}}},
		{"rooms numeric id", AppendList(nil, "rooms", []string{"global"}, []byte("12")),
			map[string]any{"type": "rooms", "from": "system", "body": "global", "rooms": []any{"global"}, "id": json.Number("12")}},
		{"error", AppendError(nil, ErrRoomNotFound, "no room named \"x\"", id),
			map[string]any{"type": "error", "from": "system", "body": "no room named \"x\"", "code": "room_not_found", "id": "req-7"}},
		{"error no id", AppendError(nil, ErrBadJSON, "malformed JSON", nil),
			map[string]any{"type": "error", "from": "system", "body": "malformed JSON", "code": "bad_json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertFields(t, jsonFrame(t, tc.frame), tc.want)
		})
	}
}

func TestAppendControlFrames(t *testing.T) {
	op, p := splitFrame(t, AppendPing(nil))
	if op != OpPing || len(p) != 0 {
		t.Fatalf("ping: op %d payload %q", op, p)
	}
	op, p = splitFrame(t, AppendPong([]byte("junk"), []byte("abc")))
	if op != OpPong || string(p) != "abc" {
		t.Fatalf("pong: op %d payload %q", op, p)
	}
	for _, tc := range []struct {
		code       int
		reason     string
		wantReason string
	}{
		{CloseNormal, "", ""},
		{CloseSlowConsumer, "slow consumer", "slow consumer"},
		{CloseProtocolError, strings.Repeat("r", 200), strings.Repeat("r", 123)},
	} {
		op, p := splitFrame(t, AppendClose(nil, tc.code, tc.reason))
		if op != OpClose || len(p) > 125 || len(p) < 2 {
			t.Fatalf("close %d: op %d payload %d bytes", tc.code, op, len(p))
		}
		if code := int(binary.BigEndian.Uint16(p)); code != tc.code || string(p[2:]) != tc.wantReason {
			t.Fatalf("close: code %d reason %q, want %d %q", code, p[2:], tc.code, tc.wantReason)
		}
	}
}

// Frames are built in a reused buffer: the result must not depend on what
// the buffer held before.
func TestAppendReusedBuffer(t *testing.T) {
	buf := make([]byte, 0, 16)
	long := AppendMessage(buf, "alice", "global", strings.Repeat("y", 300), 1, 1)
	want := bytes.Clone(AppendMessage(nil, "bob", "r", "short", 2, 2))
	got := AppendMessage(long[:0], "bob", "r", "short", 2, 2)
	if !bytes.Equal(got, want) {
		t.Fatalf("reused buffer: %q, want %q", got, want)
	}
}

func TestAppendStringEscaping(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", `""`},
		{"plain text", `"plain text"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"a\nb\rc\td", `"a\nb\rc\td"`},
		{"\x00\x01\x08\x0c\x1f", `"\u0000\u0001\u0008\u000c\u001f"`},
		{"\x7f", "\"\x7f\""},
		{"</script>&", `"</script>&"`},
		{"é日本🙂", `"é日本🙂"`},
		{"line\u2028sep\u2029", `"line\u2028sep\u2029"`},
		{"\xff", `"\ufffd"`},
		{"a\xc3", `"a\ufffd"`},                             // truncated 2-byte sequence
		{"\xe2\x80", `"\ufffd\ufffd"`},                     // truncated 3-byte sequence
		{"\xc0\xaf", `"\ufffd\ufffd"`},                     // overlong '/'
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},           // UTF-8-encoded surrogate
		{"\xf4\x90\x80\x80", `"\ufffd\ufffd\ufffd\ufffd"`}, // above U+10FFFF
		{"\xf8\x88\x80\x80\x80", `"\ufffd\ufffd\ufffd\ufffd\ufffd"`},
		{"ok\x80ok", `"ok\ufffdok"`},
	} {
		got := AppendString(nil, tc.in)
		if string(got) != tc.want {
			t.Errorf("AppendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if gb := AppendString(nil, []byte(tc.in)); string(gb) != tc.want {
			t.Errorf("AppendString([]byte(%q)) = %s, want %s", tc.in, gb, tc.want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("AppendString(%q) = %s: %v", tc.in, got, err)
		}
	}
}

func TestEncodeMessageNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 512)
	body := []byte("hello world, this is a chat message")
	allocs := testing.AllocsPerRun(100, func() {
		f := AppendMessage(buf, "alice", "global", body, 1700000000000, 12345)
		buf = f[:0]
	})
	if allocs != 0 {
		t.Fatalf("AppendMessage into a reused buffer: %v allocs, want 0", allocs)
	}
	// The server's path: open on the loop, seal on the shard, both into
	// buffers with room.
	sealed := make([]byte, 0, 512)
	allocs = testing.AllocsPerRun(100, func() {
		o := OpenMessage(buf, "alice", "global", body, 1700000000000)
		buf = o[:0]
		if f := SealMessage(append(sealed[:0], o...), 1<<40); len(f) == 0 {
			t.Fatal("empty frame")
		}
	})
	if allocs != 0 {
		t.Fatalf("OpenMessage+SealMessage into reused buffers: %v allocs, want 0", allocs)
	}
}

func TestDecodeMessageNoAllocs(t *testing.T) {
	var d Decoder
	in := []byte(`{"type":"message","args":{"body":"hello world, this is a chat message"},"id":"42"}`)
	d.Decode(in) // warm up the parser's buffers
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode with a reused Decoder: %v allocs, want 0", allocs)
	}
}

// Reusing the returned frame as the next buffer (buf = f[:0], as the event
// loop does) must keep using the same memory: a frame that starts after a
// gap in the buffer loses that gap on every call and the buffer is
// reallocated again and again.
func TestAppendReuseKeepsBuffer(t *testing.T) {
	for _, bodyLen := range []int{5, 300, 70000} {
		body := strings.Repeat("b", bodyLen)
		buf := make([]byte, 0, bodyLen+200)
		base := &buf[:1][0]
		for i := 0; i < 200; i++ {
			f := AppendMessage(buf, "alice", "global", body, int64(i), uint64(i))
			if &f[0] != base {
				t.Fatalf("body %d, frame %d: the frame moved to another buffer (or offset) after reuse", bodyLen, i)
			}
			if i%50 == 0 {
				jsonFrame(t, f)
			}
			buf = f[:0]
		}
		if cap(buf) != bodyLen+200 {
			t.Fatalf("body %d: cap %d after reuse, want %d", bodyLen, cap(buf), bodyLen+200)
		}
	}
}

// Every encoder, at payload sizes in each length form (7-bit, 16-bit,
// 64-bit): a complete frame whose payload is the documented JSON.
func TestAppendEveryFrameEverySize(t *testing.T) {
	for _, n := range []int{3, 60, 500, 40000, 70000} {
		big := strings.Repeat("é\"", n/3) // escaping makes the payload longer still
		items := []string{"alice", big, "zed"}
		id := []byte(`"x"`)
		for _, tc := range []struct {
			name  string
			frame []byte
			want  map[string]any
		}{
			{"message", AppendMessage(nil, big, "r", big, 1, 3),
				map[string]any{"type": "message", "from": big, "body": big, "room": "r", "ts": json.Number("1"), "seq": json.Number("3")}},
			{"system", AppendSystemMessage(nil, "r", big, 2, 4),
				map[string]any{"type": "message", "from": "system", "body": big, "room": "r", "ts": json.Number("2"), "server": true, "seq": json.Number("4")}},
			{"sealed", SealMessage(append(OpenMessage(nil, big, "r", big, 5), make([]byte, SealRoom)...)[:len(OpenMessage(nil, big, "r", big, 5))], 6),
				map[string]any{"type": "message", "from": big, "body": big, "room": "r", "ts": json.Number("5"), "seq": json.Number("6")}},
			{"own joined", AppendOwnJoined(nil, big, big, 7, "ep"),
				map[string]any{"type": "joined", "from": "system", "body": big + " joined", "room": big, "nickname": big, "seq": json.Number("7"), "epoch": "ep"}},
			{"joined", AppendMembership(nil, "joined", big, big),
				map[string]any{"type": "joined", "from": "system", "body": big + " joined", "room": big, "nickname": big}},
			{"nick", AppendNick(nil, big, "new", "r", big, id),
				map[string]any{"type": "nick", "from": "system", "body": big + " is now new", "old": big, "nickname": "new", "room": "r", "token": big, "id": "x"}},
			{"users", AppendList(nil, "users", items, id),
				map[string]any{"type": "users", "from": "system", "body": strings.Join(items, "\n"), "users": []any{"alice", big, "zed"}, "id": "x"}},
			{"error", AppendError(nil, ErrBodyTooLong, big, id),
				map[string]any{"type": "error", "from": "system", "body": big, "code": "body_too_long", "id": "x"}},
		} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, n), func(t *testing.T) {
				assertFields(t, jsonFrame(t, tc.frame), tc.want)
			})
		}
	}
}

// Close reasons are cut to 123 bytes on a rune boundary: the close frame's
// reason stays valid UTF-8 and fits the 125-byte control payload.
func TestCloseReasonCut(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name, reason, want string
	}{
		{"empty", "", ""},
		{"short", "bye", "bye"},
		{"exactly 123 bytes", a(123), a(123)},
		{"124 ASCII bytes", a(124), a(123)},
		{"2-byte rune across the boundary", a(122) + "é", a(122)},
		{"2-byte rune ending at the boundary", a(121) + "é" + "x", a(121) + "é"},
		{"3-byte rune across the boundary", a(121) + "€", a(121)},
		{"4-byte rune across the boundary", a(120) + "😀", a(120)},
		{"all multi-byte", strings.Repeat("é", 70), strings.Repeat("é", 61)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CloseReason(tt.reason); got != tt.want {
				t.Fatalf("CloseReason: %d bytes %q, want %d bytes", len(got), got, len(tt.want))
			}
			f := AppendClose(nil, CloseKicked, tt.reason)
			p := f[2:] // a server frame: unmasked, payload < 126 bytes
			if int(f[1]) != len(p) || len(p) > 125 {
				t.Fatalf("payload length %d (header says %d), want at most 125", len(p), f[1])
			}
			if code := int(p[0])<<8 | int(p[1]); code != CloseKicked || string(p[2:]) != tt.want || !utf8.Valid(p[2:]) {
				t.Fatalf("close frame code %d reason %q (valid UTF-8: %v), want %d %q", code, p[2:], utf8.Valid(p[2:]), CloseKicked, tt.want)
			}
		})
	}
}
