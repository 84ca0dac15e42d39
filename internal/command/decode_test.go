package command

import (
	"encoding/json"
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
