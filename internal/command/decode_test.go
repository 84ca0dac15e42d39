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
