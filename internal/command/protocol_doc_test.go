package command

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// protocolDoc is the repository's protocol reference.
const protocolDoc = "../../docs/PROTOCOL.md"

// pendingMarker marks a vocabulary row of the v1.1 contract that the code
// does not implement yet.
const pendingMarker = "(pending)"

// docVocab is the names one table of docs/PROTOCOL.md lists in its first
// column: done (implemented) and pending.
type docVocab struct{ done, pending []string }

var backticked = regexp.MustCompile("`([^`]+)`")

// readDocTables returns, per "## " section title, the names in the first
// column of its first table.
func readDocTables(t *testing.T) map[string]docVocab {
	t.Helper()
	f, err := os.Open(protocolDoc)
	if err != nil {
		t.Fatalf("the repository must carry its protocol reference: %v", err)
	}
	defer f.Close()
	out := map[string]docVocab{}
	section, inTable, tableDone := "", false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if title, ok := strings.CutPrefix(line, "## "); ok {
			section, inTable, tableDone = title, false, false
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if inTable {
				tableDone = true
			}
			inTable = false
			continue
		}
		if tableDone {
			continue
		}
		if !inTable { // header row
			inTable = true
			continue
		}
		cells := strings.Split(line, "|")
		first := cells[1]
		if strings.HasPrefix(strings.TrimSpace(first), "---") {
			continue
		}
		v := out[section]
		for _, m := range backticked.FindAllStringSubmatch(first, -1) {
			if strings.Contains(first, pendingMarker) {
				v.pending = append(v.pending, m[1])
			} else {
				v.done = append(v.done, m[1])
			}
		}
		out[section] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProtocolDocMatchesCode: every command type, server frame type and
// error code docs/PROTOCOL.md lists exists in the code, and the code has no
// other; a row marked pending must not be in the code yet.
func TestProtocolDocMatchesCode(t *testing.T) {
	doc := readDocTables(t)
	for _, tc := range []struct {
		section string
		code    []string
	}{
		{"WebSocket: client → server", CommandTypes()},
		{"WebSocket: server → client", FrameTypes},
		{"Error codes", ErrorCodes},
	} {
		t.Run(tc.section, func(t *testing.T) {
			v, ok := doc[tc.section]
			if !ok || len(v.done) == 0 {
				t.Fatalf("%s has no table under %q", protocolDoc, "## "+tc.section)
			}
			for _, n := range v.done {
				if !slices.Contains(tc.code, n) {
					t.Errorf("%s lists %q under %q but the code has no such name (mark the row %s if it is planned)", protocolDoc, n, tc.section, pendingMarker)
				}
			}
			for _, n := range tc.code {
				if !slices.Contains(v.done, n) {
					t.Errorf("the code has %q but %s does not list it under %q", n, protocolDoc, tc.section)
				}
			}
			for _, n := range v.pending {
				if slices.Contains(tc.code, n) {
					t.Errorf("%s marks %q %s under %q but the code has it now: remove the marker", protocolDoc, n, pendingMarker, tc.section)
				}
			}
		})
	}
}

// TestVocabularyIsComplete: the declared lists are what the code really
// decodes and encodes, so the doc test above compares against the truth.
func TestVocabularyIsComplete(t *testing.T) {
	t.Run("command types decode", func(t *testing.T) {
		var d Decoder
		for _, name := range CommandTypes() {
			_, derr := d.Decode([]byte(`{"type":` + strconv.Quote(name) + `}`))
			if derr != nil && derr.Code == ErrUnknownType {
				t.Errorf("declared command %q is not decoded", name)
			}
		}
	})
	t.Run("frame types encode", func(t *testing.T) {
		frames := [][]byte{
			AppendMessage(nil, "a", "r", "b", 1, 1), AppendSystemMessage(nil, "r", "b", 1, 2),
			AppendMembership(nil, FrameJoined, "r", "a"), AppendOwnJoined(nil, "r", "a", 2, "e"), AppendMembership(nil, FrameLeft, "r", "a"),
			AppendNick(nil, "a", "b", "r", "", nil), AppendList(nil, FrameUsers, nil, nil),
			AppendList(nil, FrameRooms, nil, nil), AppendError(nil, ErrBadJSON, "x", nil),
			AppendHistory(nil, "r", "e", 2, nil, true, nil),
		}
		var got []string
		for _, f := range frames {
			var v struct{ Type string }
			if err := json.Unmarshal(Payload(f), &v); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(got, v.Type) {
				got = append(got, v.Type)
			}
		}
		if !slices.Equal(got, FrameTypes) {
			t.Fatalf("the encoders produce %v, FrameTypes declares %v", got, FrameTypes)
		}
	})
	t.Run("error codes declared", func(t *testing.T) {
		// Every Err* string constant of this package is an error frame's
		// code, except the HTTP-only ones.
		httpOnly := HTTPErrorCodes
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "codes.go", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Values) != len(vs.Names) {
				return true
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING || !strings.HasPrefix(name.Name, "Err") {
					continue
				}
				code, _ := strconv.Unquote(lit.Value)
				if !slices.Contains(ErrorCodes, code) && !slices.Contains(httpOnly, code) {
					t.Errorf("%s = %q is not in ErrorCodes", name.Name, code)
				}
			}
			return true
		})
	})
}
