package command

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"unicode/utf8"
)

// argNames is the argument each command type needs ("" for none).
var argNames = [...]string{
	TypeMessage:    "body",
	TypeSetNick:    "nickname",
	TypeSwitchRoom: "room",
	TypeCreateRoom: "name",
	TypeListUsers:  "",
	TypeListRooms:  "",
	TypeExit:       "",
}

var knownCodes = map[string]bool{ErrBadJSON: true, ErrUnknownType: true, ErrBadArgs: true}

// maxDepth is a crude bracket depth (ignores strings): fastjson refuses
// documents nested deeper than its MaxDepth, which encoding/json accepts.
func maxDepth(b []byte) int {
	d, m := 0, 0
	for _, c := range b {
		switch c {
		case '{', '[':
			d++
			m = max(m, d)
		case '}', ']':
			d--
		}
	}
	return m
}

// checkDecode asserts the invariants of one Decode of arbitrary input.
func checkDecode(t *testing.T, d *Decoder, data []byte) (Command, *DecodeError) {
	t.Helper()
	in := bytes.Clone(data)
	cmd, derr := d.Decode(data)
	if !bytes.Equal(in, data) {
		t.Fatalf("Decode modified its input: %q -> %q", in, data)
	}
	validUTF8 := utf8.Valid(data)
	checkID := func(id []byte) {
		t.Helper()
		if id == nil {
			return
		}
		if !json.Valid(id) {
			t.Fatalf("echoed id %q is not valid JSON (input %q)", id, data)
		}
		if validUTF8 && !utf8.Valid(id) {
			t.Fatalf("echoed id %q is not valid UTF-8 (input %q)", id, data)
		}
		// The id must be a JSON string or number, nothing else.
		var v any
		if err := json.Unmarshal(id, &v); err != nil {
			t.Fatalf("echoed id %q: %v", id, err)
		}
		switch v.(type) {
		case string, float64:
		default:
			t.Fatalf("echoed id %q is a %T, want a string or a number", id, v)
		}
	}
	if derr != nil {
		if !knownCodes[derr.Code] {
			t.Fatalf("unknown error code %q for %q", derr.Code, data)
		}
		if derr.Msg == "" {
			t.Fatalf("empty error message for %q", data)
		}
		checkID(derr.ID)
		if derr.Code == ErrBadJSON && json.Valid(data) && maxDepth(data) < 250 &&
			bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
			t.Fatalf("valid JSON %q refused as bad_json: %s", data, derr.Msg)
		}
		return cmd, derr
	}
	if cmd.Type <= TypeUnknown || cmd.Type > TypeExit {
		t.Fatalf("success with type %d for %q", cmd.Type, data)
	}
	checkID(cmd.ID)
	if validUTF8 && !utf8.Valid(cmd.Arg) {
		t.Fatalf("arg %q is not valid UTF-8 although the input %q is", cmd.Arg, data)
	}
	name := argNames[cmd.Type]
	if name == "" {
		if cmd.Arg != nil {
			t.Fatalf("%v carries an arg %q", cmd.Type, cmd.Arg)
		}
		return cmd, derr
	}
	// Cross-check with encoding/json when the document is standard JSON
	// and the argument key is not duplicated (fastjson keeps the first,
	// encoding/json the last) nor escaped (fastjson keeps invalid surrogate
	// escapes verbatim, encoding/json makes them U+FFFD).
	if json.Valid(data) {
		// Maps, not a struct: encoding/json matches struct fields
		// case-insensitively ("ARGS"), the protocol does not.
		var top map[string]json.RawMessage
		var args map[string]any
		if json.Unmarshal(data, &top) != nil || json.Unmarshal(top["args"], &args) != nil {
			return cmd, derr // e.g. a duplicated "args" that is not an object
		}
		v, ok := args[name]
		if !ok && bytes.Count(data, []byte(`"args"`)) == 1 {
			t.Fatalf("%v decoded without %q in args: %q", cmd.Type, name, data)
		}
		if s, isStr := v.(string); isStr && bytes.Count(data, []byte(`"`+name+`"`)) == 1 &&
			bytes.Count(data, []byte(`"args"`)) == 1 && !bytes.Contains(data, []byte(`\u`)) && s != string(cmd.Arg) {
			t.Fatalf("%v arg %q, encoding/json reads %q from %q", cmd.Type, cmd.Arg, s, data)
		}
	}
	return cmd, derr
}

// roundTrip builds a command with encoding/json from fuzz strings and checks
// that Decode reads back the same type, argument and id.
func roundTrip(t *testing.T, d *Decoder, typ, arg, id string, numID int64, idKind byte) {
	t.Helper()
	want := lookupType([]byte(typ))
	obj := map[string]any{"type": typ}
	args := map[string]any{}
	if name := argNames[want]; want != TypeUnknown && name != "" {
		args[name] = arg
	}
	args["from"] = arg // ignored by the server
	obj["args"] = args
	var wantID []byte
	switch idKind % 3 {
	case 1:
		obj["id"] = id
	case 2:
		obj["id"] = numID
		wantID = strconv.AppendInt(nil, numID, 10)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	// What the JSON text says, per encoding/json.
	var back struct {
		Type string            `json:"type"`
		Args map[string]string `json:"args"`
		ID   json.RawMessage   `json:"id"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	cmd, derr := checkDecode(t, d, b)
	if want == TypeUnknown {
		if derr == nil || derr.Code != ErrUnknownType {
			t.Fatalf("type %q: got %+v %v, want unknown_type", typ, cmd, derr)
		}
	} else {
		if derr != nil {
			t.Fatalf("decode %s: %v", b, derr)
		}
		if cmd.Type != want {
			t.Fatalf("decode %s: type %v, want %v", b, cmd.Type, want)
		}
		if name := argNames[want]; name != "" && string(cmd.Arg) != back.Args[name] {
			t.Fatalf("decode %s: arg %q, want %q", b, cmd.Arg, back.Args[name])
		}
	}
	gotID := cmd.ID
	if derr != nil {
		gotID = derr.ID
	}
	switch idKind % 3 {
	case 0:
		if gotID != nil {
			t.Fatalf("decode %s: id %q, want none", b, gotID)
		}
	case 1:
		var s string
		if err := json.Unmarshal(gotID, &s); err != nil {
			t.Fatalf("decode %s: echoed id %q: %v", b, gotID, err)
		}
		var ws string
		_ = json.Unmarshal(back.ID, &ws)
		if s != ws {
			t.Fatalf("decode %s: echoed id reads %q, want %q", b, s, ws)
		}
	case 2:
		if !bytes.Equal(gotID, wantID) {
			t.Fatalf("decode %s: echoed id %q, want %q", b, gotID, wantID)
		}
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{
		`{"type":"message","args":{"body":"hello world"},"id":"42"}`,
		`{"type":"setnick","args":{"nickname":"bob"},"id":7}`,
		`{"type":"switchroom","args":{"room":"lobby"}}`,
		`{"type":"createroom","args":{"name":"new-room"},"id":null}`,
		`{"type":"listusers"}`,
		`{"type":"listrooms","id":"x"}`,
		`{"type":"exit","args":{"room":"global"}}`,
		`{"type":"message","args":{"body":"\u00e9\ud83d\ude00\n\"x\""}}`,
		`{"type":"message","args":{"body":1}}`,
		`{"type":"message"}`,
		`{"type":"nope","id":"1"}`,
		`{"type":1}`,
		`[1,2]`,
		`"str"`,
		`{"type":"listusers","id":{"a":1}}`,
		`{"type":"listusers","id":-1.5e+3}`,
		`{"type":"listusers","id":"\u0007"}`,
		`{"type":"listusers","id":NaN}`,
		`{"type":"listusers","id":1-2}`,
		`{"type":"nope","id":-inf}`,
		`{`,
		``,
	} {
		f.Add([]byte(s), "message", "hi", "id", int64(1), byte(0))
	}
	f.Add([]byte(`{}`), "setnick", "bob\x00\xff", "\u2028", int64(-5), byte(1))
	f.Add([]byte(`{}`), "listrooms", "", "", int64(1<<53), byte(2))
	f.Add([]byte(`{}`), "bogus", "a\"b\\c", "\x7f\xc3", int64(0), byte(1))
	var d Decoder
	f.Fuzz(func(t *testing.T, data []byte, typ, arg, id string, numID int64, idKind byte) {
		checkDecode(t, &d, data)
		// Deterministic, and no state leaks from one call into the next.
		c1, e1 := d.Decode(data)
		c1 = Command{Type: c1.Type, ID: bytes.Clone(c1.ID), Arg: bytes.Clone(c1.Arg)}
		var fresh Decoder
		c2, e2 := fresh.Decode(data)
		if c1.Type != c2.Type || !bytes.Equal(c1.ID, c2.ID) || !bytes.Equal(c1.Arg, c2.Arg) || (e1 == nil) != (e2 == nil) {
			t.Fatalf("reused and fresh decoders disagree on %q", data)
		}
		roundTrip(t, &d, typ, arg, id, numID, idKind)
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{
		"", "plain", `"quoted"`, `back\slash`, "\x00\x01\x1f\x7f", "tab\tnl\ncr\r",
		"é日本🙂", "\u2028\u2029", "\xff", "\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80",
		"a\xe2\x80", "</script>&",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString([]byte("prefix"), s)
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatalf("AppendString lost the prefix: %q", out)
		}
		lit := out[len("prefix"):]
		if g := AppendString(nil, []byte(s)); !bytes.Equal(g, lit) {
			t.Fatalf("string and []byte forms differ: %q vs %q", lit, g)
		}
		if !utf8.Valid(lit) {
			t.Fatalf("output %q is not valid UTF-8", lit)
		}
		for _, c := range lit {
			if c < 0x20 {
				t.Fatalf("raw control byte %#x in %q", c, lit)
			}
		}
		if bytes.Contains(lit, []byte("\u2028")) || bytes.Contains(lit, []byte("\u2029")) {
			t.Fatalf("raw U+2028/2029 in %q", lit)
		}
		obj := append(append([]byte(`{"k":`), lit...), '}')
		var m map[string]string
		if err := json.Unmarshal(obj, &m); err != nil {
			t.Fatalf("%q does not parse: %v", obj, err)
		}
		// Every invalid byte becomes one U+FFFD, as []rune conversion does.
		want := string([]rune(s))
		if m["k"] != want {
			t.Fatalf("AppendString(%q) decodes to %q, want %q", s, m["k"], want)
		}
		if utf8.ValidString(s) && m["k"] != s {
			t.Fatalf("valid input %q decodes to %q", s, m["k"])
		}
	})
}
