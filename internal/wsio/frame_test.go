package wsio

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ics-chat/ics/internal/command"
)

func TestParseFrameHeader(t *testing.T) {
	mask := []byte{0xA1, 0xB2, 0xC3, 0xD4}
	hdr := func(b ...byte) []byte { return append(b, mask...) }
	len16 := func(b0 byte, n uint16) []byte {
		return hdr(binary.BigEndian.AppendUint16([]byte{b0, 0x80 | 126}, n)...)
	}
	len64 := func(b0 byte, n uint64) []byte {
		return hdr(binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, n)...)
	}
	const max = 64 << 10
	for _, tc := range []struct {
		name     string
		in       []byte
		max      int
		ok       bool
		code     int // expected close code, 0 for none
		fin      bool
		op       byte
		length   int
		size     int
		checkLen bool
	}{
		{name: "text 7-bit", in: hdr(0x81, 0x85), ok: true, fin: true, op: command.OpText, length: 5, size: 6},
		{name: "empty text", in: hdr(0x81, 0x80), ok: true, fin: true, op: command.OpText, length: 0, size: 6},
		{name: "125", in: hdr(0x81, 0x80|125), ok: true, fin: true, op: command.OpText, length: 125, size: 6},
		{name: "fragment start", in: hdr(0x01, 0x83), ok: true, op: command.OpText, length: 3, size: 6},
		{name: "continuation", in: hdr(0x80, 0x83), ok: true, fin: true, op: command.OpContinuation, length: 3, size: 6},
		{name: "binary parses", in: hdr(0x82, 0x81), ok: true, fin: true, op: command.OpBinary, length: 1, size: 6},
		{name: "ping", in: hdr(0x89, 0x80|125), ok: true, fin: true, op: command.OpPing, length: 125, size: 6},
		{name: "pong", in: hdr(0x8A, 0x80), ok: true, fin: true, op: command.OpPong, size: 6},
		{name: "close", in: hdr(0x88, 0x82), ok: true, fin: true, op: command.OpClose, length: 2, size: 6},
		{name: "16-bit 126", in: len16(0x81, 126), ok: true, fin: true, op: command.OpText, length: 126, size: 8},
		{name: "16-bit 65535", in: len16(0x81, 65535), max: 1 << 20, ok: true, fin: true, op: command.OpText, length: 65535, size: 8},
		{name: "16-bit at limit", in: len16(0x81, 1000), max: 1000, ok: true, fin: true, op: command.OpText, length: 1000, size: 8},
		{name: "64-bit", in: len64(0x81, 70000), max: 1 << 20, ok: true, fin: true, op: command.OpText, length: 70000, size: 14},
		{name: "64-bit at limit", in: len64(0x81, max), ok: true, fin: true, op: command.OpText, length: max, size: 14},

		{name: "empty", in: nil},
		{name: "one byte", in: []byte{0x81}},
		{name: "7-bit without mask", in: []byte{0x81, 0x85, 1, 2, 3}},
		{name: "16-bit partial length", in: []byte{0x81, 0x80 | 126, 0}},
		{name: "16-bit without mask", in: []byte{0x81, 0x80 | 126, 0, 200, 1}},
		{name: "64-bit partial length", in: []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 1}},
		{name: "64-bit without mask", in: len64(0x81, 1000)[:12]},

		{name: "rsv1", in: hdr(0xC1, 0x80), code: 1002},
		{name: "rsv2", in: hdr(0xA1, 0x80), code: 1002},
		{name: "rsv3", in: hdr(0x91, 0x80), code: 1002},
		{name: "opcode 3", in: hdr(0x83, 0x80), code: 1002},
		{name: "opcode 7", in: hdr(0x87, 0x80), code: 1002},
		{name: "opcode 0xB", in: hdr(0x8B, 0x80), code: 1002},
		{name: "opcode 0xF", in: hdr(0x8F, 0x80), code: 1002},
		{name: "fragmented ping", in: hdr(0x09, 0x80), code: 1002},
		{name: "fragmented close", in: hdr(0x08, 0x82), code: 1002},
		{name: "ping 126", in: len16(0x89, 126), code: 1002},
		{name: "close 64-bit", in: len64(0x88, 2), code: 1002},
		{name: "unmasked", in: []byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, code: 1002},
		{name: "unmasked partial", in: []byte{0x81, 0x05}, code: 1002},
		{name: "too big 7-bit", in: hdr(0x81, 0x80|100), max: 99, code: 1009},
		{name: "too big 16-bit", in: len16(0x81, 1001), max: 1000, code: 1009},
		{name: "too big 16-bit before mask", in: len16(0x81, 1001)[:4], max: 1000, code: 1009},
		{name: "too big 64-bit", in: len64(0x81, max+1), code: 1009},
		{name: "too big 64-bit before mask", in: len64(0x81, max+1)[:10], code: 1009},
		{name: "64-bit top bit", in: len64(0x81, 1<<63), code: 1009},
		{name: "64-bit huge", in: len64(0x81, 1<<62), code: 1009},
		{name: "too big continuation", in: len16(0x00, 1001), max: 1000, code: 1009},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.max
			if m == 0 {
				m = max
			}
			h, ok, fe := parseFrameHeader(tc.in, m)
			if tc.code != 0 {
				if fe == nil || fe.code != tc.code || fe.reason == "" || ok {
					t.Fatalf("got ok=%v fe=%+v, want close %d", ok, fe, tc.code)
				}
				return
			}
			if fe != nil {
				t.Fatalf("unexpected frame error %+v", fe)
			}
			if ok != tc.ok {
				t.Fatalf("ok=%v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if h.fin != tc.fin || h.op != tc.op || h.length != tc.length || h.size != tc.size || !h.masked {
				t.Fatalf("got %+v, want fin=%v op=%d length=%d size=%d", h, tc.fin, tc.op, tc.length, tc.size)
			}
			if !bytes.Equal(h.mask[:], mask) {
				t.Fatalf("mask %x, want %x", h.mask, mask)
			}
		})
	}
}

// A stream of frames split at every byte parses to the same payloads.
func TestFrameStreamEveryChunking(t *testing.T) {
	var stream []byte
	want := []frameEvent{
		{fin: true, op: command.OpText, payload: `{"type":"listusers"}`},
		{fin: false, op: command.OpText, payload: string(bytes.Repeat([]byte("a"), 300))},
		{fin: true, op: command.OpPing, payload: "ping"},
		{fin: true, op: command.OpContinuation, payload: "end"},
		{fin: true, op: command.OpClose, payload: "\x03\xe8bye"},
	}
	for i, e := range want {
		stream = append(stream, encodeFrame(e.fin, e.op, [4]byte{byte(i), 0x37, 0xFF, 0x80}, []byte(e.payload))...)
	}
	for step := 1; step <= 40; step++ {
		if got := parseChunked(t, stream, []byte{byte(step)}, 1<<16); !sameEvents(got, want) {
			t.Fatalf("chunk size %d: got %v", step*step+1, got)
		}
	}
}

func TestUnmask(t *testing.T) {
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	for n := 0; n <= 40; n++ {
		orig := make([]byte, n)
		for i := range orig {
			orig[i] = byte(i*31 + 7)
		}
		p := bytes.Clone(orig)
		unmask(p, mask)
		for i := range p {
			if p[i] != orig[i]^mask[i%4] {
				t.Fatalf("len %d byte %d: %#x, want %#x", n, i, p[i], orig[i]^mask[i%4])
			}
		}
		unmask(p, mask)
		if !bytes.Equal(p, orig) {
			t.Fatalf("len %d: unmask twice is not the identity", n)
		}
	}
}

func TestValidCloseCode(t *testing.T) {
	for code, want := range map[int]bool{
		0: false, 999: false, 1000: true, 1001: true, 1002: true, 1003: true, 1004: false, 1005: false,
		1006: false, 1007: true, 1008: true, 1009: true, 1010: true, 1011: true, 1012: false, 1015: false,
		2999: false, 3000: true, 4000: true, 4999: true, 5000: false, 65535: false,
	} {
		if got := validCloseCode(code); got != want {
			t.Errorf("validCloseCode(%d) = %v, want %v", code, got, want)
		}
	}
}
