package wsio

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ics-chat/ics/internal/command"
)

type sniffVerdict struct {
	h        requestHead
	complete bool
	err      error
}

func (v sniffVerdict) final() bool { return v.complete || v.err != nil }

func sameHead(a, b requestHead) bool {
	return bytes.Equal(a.method, b.method) && bytes.Equal(a.target, b.target) && bytes.Equal(a.path, b.path) &&
		a.headerLen == b.headerLen && a.bodyLen == b.bodyLen && a.chunked == b.chunked
}

// within reports whether sub is a subslice of b[:n] (or empty).
func within(sub, b []byte, n int) bool {
	if len(sub) == 0 {
		return true
	}
	for i := 0; i+len(sub) <= n; i++ {
		if &b[i] == &sub[0] {
			return true
		}
	}
	return false
}

// checkSniff asserts the invariants of one sniffRequest verdict on b.
func checkSniff(t *testing.T, b []byte, maxHeader int) sniffVerdict {
	t.Helper()
	in := bytes.Clone(b)
	h, complete, err := sniffRequest(b, maxHeader)
	if !bytes.Equal(in, b) {
		t.Fatalf("sniffRequest modified its input")
	}
	blank := bytes.Index(b, crlfcrlf)
	switch {
	case complete:
		if err != nil {
			t.Fatalf("complete with error %v", err)
		}
		if h.headerLen < 4 || h.headerLen > len(b) || h.headerLen > maxHeader {
			t.Fatalf("headerLen %d out of range (len %d, max %d) for %q", h.headerLen, len(b), maxHeader, b)
		}
		if !bytes.Equal(b[h.headerLen-4:h.headerLen], crlfcrlf) || blank != h.headerLen-4 {
			t.Fatalf("head of %d bytes does not end at the first CRLFCRLF (%d) in %q", h.headerLen, blank, b)
		}
		if h.bodyLen < 0 {
			t.Fatalf("negative body length %d", h.bodyLen)
		}
		if len(h.method) == 0 || len(h.target) == 0 || !bytes.HasPrefix(h.target, h.path) {
			t.Fatalf("bad request line parts %q %q %q", h.method, h.target, h.path)
		}
		if !within(h.method, b, h.headerLen) || !within(h.target, b, h.headerLen) {
			t.Fatalf("method/target not borrowed from the head")
		}
	case err == errHeaderTooLarge:
		if len(b) < maxHeader {
			t.Fatalf("header too large with only %d < %d bytes", len(b), maxHeader)
		}
		if blank >= 0 && blank+4 <= maxHeader {
			t.Fatalf("header too large although the blank line ends at %d <= %d", blank+4, maxHeader)
		}
	case err == nil:
		// Waiting for more: only while under the limit and without a
		// blank line.
		if len(b) >= maxHeader {
			t.Fatalf("incomplete without error at %d >= %d bytes: %q", len(b), maxHeader, b)
		}
		if blank >= 0 {
			t.Fatalf("incomplete although a blank line is at %d: %q", blank, b)
		}
	default:
		switch err {
		case errBadRequestLine, errBadHeader, errBadLength:
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if !complete && blank >= 0 && blank+4 <= maxHeader && err == errHeaderTooLarge {
		t.Fatalf("blank line in range but header too large")
	}
	return sniffVerdict{h, complete, err}
}

func FuzzSniffRequest(f *testing.F) {
	for _, s := range []string{
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
		"POST /auth?nickname=bob HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"POST /auth HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"GET / HTTP/1.1\r\nbad header\r\n\r\n",
		"get / HTTP/1.1\r\n\r\n",
		"GET / HTTP/2\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\r\n\r\n",
		"\r\n\r\n",
		"GET / HTTP/1.1\r\nX: " + string(bytes.Repeat([]byte("a"), 600)) + "\r\n\r\n",
	} {
		f.Add([]byte(s), uint16(len(s)/2), uint16(8192))
		f.Add([]byte(s), uint16(3), uint16(64))
	}
	// A request line ending in CR CR LF, split right after it.
	f.Add([]byte("GET / HTTP/1.1\r\r\n\r\n"), uint16(17), uint16(8192))
	f.Fuzz(func(t *testing.T, b []byte, split, max uint16) {
		maxHeader := 4 + int(max)%(16<<10)
		whole := checkSniff(t, b, maxHeader)
		// The event loop calls sniffRequest on what has arrived so far
		// and again once more comes: a final verdict on a prefix must
		// be the verdict on the whole.
		k := int(split) % (len(b) + 1)
		first := checkSniff(t, b[:k], maxHeader)
		if first.final() {
			if first.complete != whole.complete || first.err != whole.err || (whole.complete && !sameHead(first.h, whole.h)) {
				t.Fatalf("prefix %q -> %+v, whole %q -> %+v", b[:k], first, b, whole)
			}
		}
		if def := checkSniff(t, b, 8<<10); len(b) < maxHeader && len(b) < 8<<10 &&
			(def.complete != whole.complete || def.err != whole.err || (whole.complete && !sameHead(def.h, whole.h))) {
			t.Fatalf("verdict depends on the limit for %q: %+v vs %+v", b, def, whole)
		}
	})
}

// frameEvent is one parsed frame, or the protocol error that ended a stream.
type frameEvent struct {
	fin     bool
	op      byte
	payload string
	code    int
}

// parseStream parses frames the way conn.onWS does: b is what is buffered,
// frames are consumed while complete, the rest is kept for the next read.
func parseStream(t *testing.T, buf []byte, maxPayload int, events []frameEvent) (rest []byte, out []frameEvent, failed bool) {
	t.Helper()
	used := 0
	for used < len(buf) {
		h, ok, fe := parseFrameHeader(buf[used:], maxPayload)
		if fe != nil {
			if fe.code != 1002 && fe.code != 1009 {
				t.Fatalf("close code %d, want 1002 or 1009", fe.code)
			}
			if fe.reason == "" {
				t.Fatalf("close without a reason")
			}
			return nil, append(events, frameEvent{code: fe.code}), true
		}
		if !ok {
			if len(buf)-used >= 14 {
				t.Fatalf("%d bytes buffered but the header is still partial", len(buf)-used)
			}
			break
		}
		if h.length < 0 || h.length > maxPayload {
			t.Fatalf("payload length %d outside [0, %d]", h.length, maxPayload)
		}
		if h.size != 6 && h.size != 8 && h.size != 14 {
			t.Fatalf("header size %d", h.size)
		}
		if !h.masked {
			t.Fatalf("unmasked frame accepted")
		}
		if h.op >= command.OpClose && (h.length > 125 || !h.fin) {
			t.Fatalf("control frame accepted: fin=%v len=%d", h.fin, h.length)
		}
		if len(buf)-used < h.size+h.length {
			break
		}
		p := buf[used+h.size : used+h.size+h.length]
		unmask(p, h.mask)
		used += h.size + h.length
		events = append(events, frameEvent{fin: h.fin, op: h.op, payload: string(p)})
	}
	return buf[used:], events, false
}

// parseChunked feeds stream to the parser in the chunks cuts describes.
func parseChunked(t *testing.T, stream []byte, cuts []byte, maxPayload int) []frameEvent {
	t.Helper()
	var buf []byte
	var events []frameEvent
	var failed bool
	for off, i := 0, 0; off < len(stream); i++ {
		n := len(stream) - off
		if len(cuts) > 0 {
			n = min(n, 1+int(cuts[i%len(cuts)])*int(cuts[i%len(cuts)]))
		}
		buf = append(buf, stream[off:off+n]...)
		off += n
		buf, events, failed = parseStream(t, buf, maxPayload, events)
		if failed {
			break
		}
		buf = bytes.Clone(buf) // gnet keeps the unconsumed tail
	}
	return events
}

// encodeFrame is a client frame: masked, minimal length encoding.
func encodeFrame(fin bool, op byte, mask [4]byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xFFFF:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, mask[:]...)
	start := len(f)
	f = append(f, payload...)
	for i := range payload {
		f[start+i] ^= mask[i&3]
	}
	return f
}

func FuzzFrameParser(f *testing.F) {
	hello := encodeFrame(true, command.OpText, [4]byte{1, 2, 3, 4}, []byte(`{"type":"listusers"}`))
	f.Add(hello, []byte("ab\x00cd"), []byte{5, 0, 9}, uint32(0x01020304), uint16(0), []byte{1, 1})
	f.Add(append(bytes.Clone(hello), hello...), []byte("x"), []byte{1}, uint32(0), uint16(200), []byte{0})
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, []byte{}, []byte{}, uint32(7), uint16(1), []byte{2})    // unmasked
	f.Add([]byte{0x89, 0xFE, 0x00, 0x7e, 0, 0, 0, 0}, []byte("p"), []byte{0}, uint32(9), uint16(3), []byte{3}) // long ping
	f.Add([]byte{0x81, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, []byte("q"), []byte{}, uint32(1), uint16(4), []byte{4})
	f.Add([]byte{0xC1, 0x80, 1, 2, 3, 4}, bytes.Repeat([]byte("z"), 300), []byte{0, 200, 1}, uint32(5), uint16(0xFFFF), []byte{0, 7})
	f.Add([]byte{0x83, 0x80, 1, 2, 3, 4}, []byte("big"), []byte{0x80, 0x10}, uint32(3), uint16(0x8001), []byte{9, 0})
	f.Fuzz(func(t *testing.T, raw []byte, data []byte, plan []byte, maskSeed uint32, shape uint16, cuts []byte) {
		// 1. Arbitrary bytes: the parser never panics, never reports more
		// than the limit, and sees the same frames whatever the chunking.
		maxPayload := 1 + int(shape)%(1<<17)
		_, whole, _ := parseStream(t, bytes.Clone(raw), maxPayload, nil)
		chunked := parseChunked(t, raw, cuts, maxPayload)
		if !sameEvents(whole, chunked) {
			t.Fatalf("chunked parse %v differs from whole %v", chunked, whole)
		}

		// 2. Valid masked frames built from the inputs parse back to the
		// same payloads, whatever the chunking.
		var stream []byte
		var want []frameEvent
		rest := data
		if shape&0x8000 != 0 && len(data) > 0 {
			// Large payloads for the 16- and 64-bit length forms.
			n := 126 + int(shape&0x7FFF)*3
			rest = bytes.Repeat(data, n/len(data)+1)[:n]
		}
		mask := [4]byte{byte(maskSeed), byte(maskSeed >> 8), byte(maskSeed >> 16), byte(maskSeed >> 24)}
		for i := 0; i < len(plan) && i < 16; i++ {
			p := plan[i]
			op := [...]byte{command.OpText, command.OpBinary, command.OpContinuation, command.OpPing, command.OpPong, command.OpClose}[int(p&0x7)%6]
			fin := op >= command.OpClose || p&0x8 == 0
			n := int(p >> 4)
			if op < command.OpClose && p&0x80 != 0 {
				n = len(rest) // the big one
			}
			n = min(n, len(rest))
			payload := rest[:n]
			rest = rest[n:]
			stream = append(stream, encodeFrame(fin, op, mask, payload)...)
			want = append(want, frameEvent{fin: fin, op: op, payload: string(payload)})
			mask[0] += 0x5b
		}
		const limit = 1 << 17
		_, got, failed := parseStream(t, bytes.Clone(stream), limit, nil)
		if failed || !sameEvents(got, want) {
			t.Fatalf("valid frames parsed as %v, want %v", got, want)
		}
		if got := parseChunked(t, stream, cuts, limit); !sameEvents(got, want) {
			t.Fatalf("valid frames, chunked %v: parsed as %v, want %v", cuts, got, want)
		}

		// 3. unmask is its own inverse and equals the byte-wise XOR, at any
		// alignment.
		for off := 0; off < 4 && off <= len(data); off++ {
			p := bytes.Clone(data[off:])
			unmask(p, mask)
			for i := range p {
				if p[i] != data[off+i]^mask[i&3] {
					t.Fatalf("unmask byte %d: %#x, want %#x", i, p[i], data[off+i]^mask[i&3])
				}
			}
			unmask(p, mask)
			if !bytes.Equal(p, data[off:]) {
				t.Fatalf("unmask twice is not the identity")
			}
		}
	})
}

func sameEvents(a, b []frameEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
