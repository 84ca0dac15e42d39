package command

import (
	"encoding/json"
	"strings"
	"testing"
)

// Regression (FuzzDecodeCommand, testdata/fuzz/FuzzDecodeCommand/f65da6ee72f2d76a):
// a string id with an escaped control character was echoed in Go syntax
// ("\x00", "\a"), which is not JSON.
func TestDecodeStringIDEchoIsJSON(t *testing.T) {
	for _, tc := range []struct{ in, wantID string }{
		{`{"type":"listusers","id":"\u0000"}`, `"\u0000"`},
		{`{"type":"listusers","id":"\u0007"}`, `"\u0007"`},
		{`{"type":"listusers","id":"a\"b\\c"}`, `"a\"b\\c"`},
		{`{"type":"listusers","id":"\udb40\udc01"}`, "\"\U000E0001\""},
		{`{"type":"listusers","id":"x\ny"}`, `"x\ny"`},
		{`{"type":"nope","id":"\u0001"}`, `"\u0001"`},
	} {
		var d Decoder
		cmd, derr := d.Decode([]byte(tc.in))
		id := cmd.ID
		if derr != nil {
			id = derr.ID
		}
		if string(id) != tc.wantID {
			t.Errorf("%s: id %q, want %q", tc.in, id, tc.wantID)
		}
		if !json.Valid(id) {
			t.Errorf("%s: echoed id %q is not valid JSON", tc.in, id)
		}
	}
}

// fastjson parses number-like junk (NaN, inf, 1-2, 01) as numbers; such an
// id was echoed verbatim, making the error/reply frame invalid JSON.
func TestDecodeNumberID(t *testing.T) {
	for _, tc := range []struct {
		in     string
		wantID string // "" when the command must fail with bad_json
	}{
		{"0", "0"}, {"42", "42"}, {"-1", "-1"}, {"1.5", "1.5"}, {"-0.25e+10", "-0.25e+10"},
		{"1E5", "1E5"}, {"12345678901234567890123", "12345678901234567890123"},
		{"NaN", ""}, {"nan", ""}, {"inf", ""}, {"-Inf", ""}, {"1-2", ""}, {"01", ""},
		{".5", ""}, {"-", ""}, {"1.", ""}, {"1e", ""}, {"1e+", ""}, {"+1", ""}, {"--1", ""}, {"1.2.3", ""},
	} {
		var d Decoder
		in := `{"type":"listusers","id":` + tc.in + `}`
		cmd, derr := d.Decode([]byte(in))
		if tc.wantID == "" {
			if derr == nil || derr.Code != ErrBadJSON || derr.ID != nil {
				t.Errorf("%s: got %+v, %+v; want bad_json without id", in, cmd, derr)
			}
			continue
		}
		if derr != nil || string(cmd.ID) != tc.wantID || !json.Valid(cmd.ID) {
			t.Errorf("%s: got id %q, %v; want %s", in, cmd.ID, derr, tc.wantID)
		}
	}
}

func TestDecodeTable(t *testing.T) {
	type want struct {
		typ   Type
		arg   string // for commands with an argument
		watch Watch  // listrooms' args.watch
		id    string // "" for none
		code  string // "" for success
	}
	for _, tc := range []struct {
		name, in string
		want     want
	}{
		{"message", `{"type":"message","args":{"body":"hello"}}`, want{typ: TypeMessage, arg: "hello"}},
		{"message escaped", `{"type":"message","args":{"body":"a\"b\\c\n\u00e9\ud83d\ude00"}}`, want{typ: TypeMessage, arg: "a\"b\\c\n\u00e9\U0001F600"}},
		{"message empty body", `{"type":"message","args":{"body":""}}`, want{typ: TypeMessage, arg: ""}},
		{"message from ignored", `{"type":"message","args":{"body":"x","from":"mallory"}}`, want{typ: TypeMessage, arg: "x"}},
		{"setnick", `{"type":"setnick","args":{"nickname":"bob"},"id":"n1"}`, want{typ: TypeSetNick, arg: "bob", id: `"n1"`}},
		{"switchroom", `{"type":"switchroom","args":{"room":"lobby"},"id":3}`, want{typ: TypeSwitchRoom, arg: "lobby", id: "3"}},
		{"createroom", `{"id":"c","args":{"name":"new"},"type":"createroom"}`, want{typ: TypeCreateRoom, arg: "new", id: `"c"`}},
		{"listusers", `{"type":"listusers"}`, want{typ: TypeListUsers}},
		{"listusers args ignored", `{"type":"listusers","args":5}`, want{typ: TypeListUsers}},
		{"listusers after", `{"type":"listusers","args":{"after":"bob","limit":2}}`, want{typ: TypeListUsers, arg: "bob"}},
		{"listusers limit 0", `{"type":"listusers","args":{"limit":0},"id":1}`, want{code: ErrBadArgs, id: "1"}},
		{"listusers limit over 1000", `{"type":"listusers","args":{"limit":1001}}`, want{code: ErrBadArgs}},
		{"listusers after not a string", `{"type":"listusers","args":{"after":3}}`, want{code: ErrBadArgs}},
		{"listrooms", `{"type":"listrooms","id":"r"}`, want{typ: TypeListRooms, id: `"r"`}},
		{"listrooms watch", `{"type":"listrooms","args":{"watch":true}}`, want{typ: TypeListRooms, watch: WatchOn}},
		{"listrooms unwatch", `{"type":"listrooms","args":{"watch":false},"id":2}`, want{typ: TypeListRooms, watch: WatchOff, id: "2"}},
		{"listrooms args not object", `{"type":"listrooms","args":7}`, want{typ: TypeListRooms}},
		{"listrooms watch not bool", `{"type":"listrooms","args":{"watch":"yes"},"id":"w"}`, want{code: ErrBadArgs, id: `"w"`}},
		{"exit", `{"type":"exit","args":{"room":"global"}}`, want{typ: TypeExit}},
		{"whitespace", " \t\r\n{ \"type\" : \"exit\" } \n", want{typ: TypeExit}},
		{"id null", `{"type":"exit","id":null}`, want{typ: TypeExit}},
		{"id negative float", `{"type":"exit","id":-1.5e3}`, want{typ: TypeExit, id: "-1.5e3"}},
		{"id escaped", `{"type":"exit","id":"a\"b"}`, want{typ: TypeExit, id: `"a\"b"`}},

		{"message no args", `{"type":"message","id":"1"}`, want{code: ErrBadArgs, id: `"1"`}},
		{"message args not object", `{"type":"message","args":"hello","id":1}`, want{code: ErrBadArgs, id: "1"}},
		{"message args null", `{"type":"message","args":null}`, want{code: ErrBadArgs}},
		{"message body missing", `{"type":"message","args":{"text":"hi"}}`, want{code: ErrBadArgs}},
		{"message body number", `{"type":"message","args":{"body":42}}`, want{code: ErrBadArgs}},
		{"message body null", `{"type":"message","args":{"body":null}}`, want{code: ErrBadArgs}},
		{"message body array", `{"type":"message","args":{"body":["a"]}}`, want{code: ErrBadArgs}},
		{"setnick missing", `{"type":"setnick","args":{"name":"bob"},"id":"s"}`, want{code: ErrBadArgs, id: `"s"`}},
		{"setnick wrong type", `{"type":"setnick","args":{"nickname":true}}`, want{code: ErrBadArgs}},
		{"switchroom missing", `{"type":"switchroom","args":{}}`, want{code: ErrBadArgs}},
		{"switchroom wrong type", `{"type":"switchroom","args":{"room":{"x":1}}}`, want{code: ErrBadArgs}},
		{"createroom missing", `{"type":"createroom","args":{"room":"x"}}`, want{code: ErrBadArgs}},
		{"createroom wrong type", `{"type":"createroom","args":{"name":1}}`, want{code: ErrBadArgs}},
		{"type missing", `{"args":{"body":"x"},"id":"t"}`, want{code: ErrBadArgs, id: `"t"`}},
		{"type number", `{"type":1}`, want{code: ErrBadArgs}},
		{"type null", `{"type":null}`, want{code: ErrBadArgs}},
		{"unknown type", `{"type":"dance","id":"u"}`, want{code: ErrUnknownType, id: `"u"`}},
		{"type case-sensitive", `{"type":"Message","args":{"body":"x"}}`, want{code: ErrUnknownType}},
		{"type unknown name", `{"type":"unknown"}`, want{code: ErrUnknownType}},
		{"id object", `{"type":"exit","id":{"a":1}}`, want{code: ErrBadArgs}},
		{"id array", `{"type":"exit","id":[1]}`, want{code: ErrBadArgs}},
		{"id bool", `{"type":"exit","id":true}`, want{code: ErrBadArgs}},
		{"id NaN", `{"type":"exit","id":NaN}`, want{code: ErrBadJSON}},
		{"array", `[{"type":"exit"}]`, want{code: ErrBadJSON}},
		{"string", `"exit"`, want{code: ErrBadJSON}},
		{"number", `42`, want{code: ErrBadJSON}},
		{"null", `null`, want{code: ErrBadJSON}},
		{"empty", ``, want{code: ErrBadJSON}},
		{"truncated", `{"type":"exit"`, want{code: ErrBadJSON}},
		{"trailing garbage", `{"type":"exit"} x`, want{code: ErrBadJSON}},
		{"two objects", `{"type":"exit"}{"type":"exit"}`, want{code: ErrBadJSON}},
		{"not json", `hello`, want{code: ErrBadJSON}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			cmd, derr := d.Decode([]byte(tc.in))
			if tc.want.code != "" {
				if derr == nil {
					t.Fatalf("got %+v, want error %s", cmd, tc.want.code)
				}
				if derr.Code != tc.want.code || string(derr.ID) != tc.want.id || derr.Msg == "" {
					t.Fatalf("got error %+v (id %q), want code %s id %q", derr, derr.ID, tc.want.code, tc.want.id)
				}
				if derr.Error() != derr.Code+": "+derr.Msg {
					t.Fatalf("Error() = %q", derr.Error())
				}
				if cmd.Type != TypeUnknown {
					t.Fatalf("failed decode returned type %v", cmd.Type)
				}
				return
			}
			if derr != nil {
				t.Fatalf("unexpected error %v", derr)
			}
			if cmd.Type != tc.want.typ || string(cmd.Arg) != tc.want.arg || string(cmd.ID) != tc.want.id || cmd.Watch != tc.want.watch {
				t.Fatalf("got %v arg %q id %q, want %v arg %q id %q", cmd.Type, cmd.Arg, cmd.ID, tc.want.typ, tc.want.arg, tc.want.id)
			}
			if tc.want.id == "" && cmd.ID != nil {
				t.Fatalf("id %q, want none", cmd.ID)
			}
		})
	}
}

// A Decoder is reused across commands: an earlier id must not leak into a
// later command without one.
func TestDecoderReuse(t *testing.T) {
	var d Decoder
	if c, err := d.Decode([]byte(`{"type":"listusers","id":"first"}`)); err != nil || string(c.ID) != `"first"` {
		t.Fatalf("first: %+v %v", c, err)
	}
	c, err := d.Decode([]byte(`{"type":"message","args":{"body":"second"}}`))
	if err != nil || c.ID != nil || string(c.Arg) != "second" || c.Type != TypeMessage {
		t.Fatalf("second: %+v %v", c, err)
	}
	_, derr := d.Decode([]byte(`{"type":"nope"}`))
	if derr == nil || derr.ID != nil {
		t.Fatalf("third: %+v", derr)
	}
}

func TestTypeString(t *testing.T) {
	for typ, want := range map[Type]string{TypeUnknown: "unknown", TypeMessage: "message", TypeSetNick: "setnick",
		TypeSwitchRoom: "switchroom", TypeCreateRoom: "createroom", TypeListUsers: "listusers", TypeListRooms: "listrooms", TypeExit: "exit"} {
		if typ.String() != want {
			t.Errorf("%d.String() = %q, want %q", typ, typ.String(), want)
		}
		if typ != TypeUnknown && lookupType([]byte(want)) != typ {
			t.Errorf("lookupType(%q) = %v", want, lookupType([]byte(want)))
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"ab": true, "_x": true, "Alice": true, "bob_2": true, "a-b": true, "Z9": true,
		"abcdefghijklmnopqrstuvwxyz012345": true, "abcdefghijklmnopqrstuvwxyz0123456": false,
		"": false, "a": false, "1ab": false, "-ab": false, "a b": false, "é1": false, "ab!": false, "a.b": false, "a\x00": false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
		if got := ValidName([]byte(name)); got != want {
			t.Errorf("ValidName([]byte(%q)) = %v, want %v", name, got, want)
		}
	}
}

func TestDecodeHistory(t *testing.T) {
	for _, tc := range []struct {
		args     string // "" = no args field
		bad      bool   // bad_args expected
		since    uint64
		hasSince bool
		epoch    string
		hasEpoch bool
		limit    int
	}{
		{args: "", limit: 50},
		{args: `{}`, limit: 50},
		{args: `null`, limit: 50},
		{args: `{"since":0}`, hasSince: true, limit: 50},
		{args: `{"since":17,"epoch":"abc-0-1","limit":3}`, since: 17, hasSince: true, epoch: "abc-0-1", hasEpoch: true, limit: 3},
		{args: `{"epoch":""}`, hasEpoch: true, limit: 50},
		{args: `{"limit":1}`, limit: 1},
		{args: `{"limit":100}`, limit: 100},
		{args: `{"since":null,"epoch":null,"limit":null}`, limit: 50},
		{args: `{"limit":0}`, bad: true},
		{args: `{"limit":101}`, bad: true},
		{args: `{"limit":-5}`, bad: true},
		{args: `{"limit":2.5}`, bad: true},
		{args: `{"limit":"10"}`, bad: true},
		{args: `{"since":-1}`, bad: true},
		{args: `{"since":1.5}`, bad: true},
		{args: `{"since":"3"}`, bad: true},
		{args: `{"since":1e3}`, bad: true},
		{args: `{"since":99999999999999999999999}`, bad: true},
		{args: `{"epoch":7}`, bad: true},
		{args: `{"epoch":"` + strings.Repeat("e", 65) + `"}`, bad: true},
		{args: `[]`, bad: true},
	} {
		in := `{"type":"history","id":1}`
		if tc.args != "" {
			in = `{"type":"history","id":1,"args":` + tc.args + `}`
		}
		var d Decoder
		cmd, derr := d.Decode([]byte(in))
		if tc.bad {
			if derr == nil || derr.Code != ErrBadArgs || string(derr.ID) != "1" {
				t.Errorf("%s: got %+v, %v; want bad_args echoing id 1", in, cmd, derr)
			}
			continue
		}
		if derr != nil || cmd.Type != TypeHistory || cmd.Since != tc.since || cmd.HasSince != tc.hasSince ||
			string(cmd.Arg) != tc.epoch || cmd.HasEpoch != tc.hasEpoch || cmd.Limit != tc.limit {
			t.Errorf("%s: got %+v, %v", in, cmd, derr)
		}
	}
}
