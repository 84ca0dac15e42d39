package wsio

import (
	"strings"
	"testing"
)

func TestSniffRequest(t *testing.T) {
	const max = 8 << 10
	ws := "GET /ws?token=abc HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	type want struct {
		complete bool
		err      error
		method   string
		target   string
		path     string
		bodyLen  int
		chunked  bool
	}
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want want
	}{
		{"websocket", ws, 0, want{complete: true, method: "GET", target: "/ws?token=abc", path: "/ws"}},
		{"http/1.0", "GET / HTTP/1.0\r\n\r\n", 0, want{complete: true, method: "GET", target: "/", path: "/"}},
		{"asterisk", "OPTIONS * HTTP/1.1\r\n\r\n", 0, want{complete: true, method: "OPTIONS", target: "*", path: "*"}},
		{"body follows", "POST /auth?nickname=bob HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 0,
			want{complete: true, method: "POST", target: "/auth?nickname=bob", path: "/auth", bodyLen: 5}},
		{"content-length case and spaces", "POST /auth HTTP/1.1\r\ncOnTeNt-LeNgTh:   12  \r\n\r\n", 0,
			want{complete: true, method: "POST", target: "/auth", path: "/auth", bodyLen: 12}},
		{"content-length repeated equal", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0,
			want{complete: true, method: "POST", target: "/", path: "/", bodyLen: 3}},
		{"content-length zero", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, want{complete: true, method: "POST", target: "/", path: "/"}},
		{"chunked", "POST /auth HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0,
			want{complete: true, method: "POST", target: "/auth", path: "/auth", chunked: true}},
		{"transfer-encoding gzip, chunked", "POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n", 0,
			want{complete: true, method: "POST", target: "/", path: "/", chunked: true}},
		{"transfer-encoding identity", "POST / HTTP/1.1\r\nTransfer-Encoding: Identity\r\nContent-Length: 2\r\n\r\n", 0,
			want{complete: true, method: "POST", target: "/", path: "/", bodyLen: 2}},
		{"bare LF line ends", "GET / HTTP/1.1\nHost: x\r\n\r\n", 0, want{complete: true, method: "GET", target: "/", path: "/"}},
		{"at the limit", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 64-23) + "\r\n\r\n", 64,
			want{complete: true, method: "GET", target: "/", path: "/"}},

		{"empty", "", 0, want{}},
		{"partial request line", "GET /ws HT", 0, want{}},
		{"partial headers", "GET /ws HTTP/1.1\r\nHost: exa", 0, want{}},
		{"one CRLF", "GET /ws HTTP/1.1\r\n", 0, want{}},
		{"CRLF CR", "GET /ws HTTP/1.1\r\nHost: x\r\n\r", 0, want{}},

		{"oversize without blank line", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 100), 64, want{err: errHeaderTooLarge}},
		{"oversize exactly max", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 64-19), 64, want{err: errHeaderTooLarge}},
		{"blank line past the limit", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 64-22) + "\r\n\r\n", 64, want{err: errHeaderTooLarge}},
		{"default limit", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n", 0, want{err: errHeaderTooLarge}},

		{"lowercase method", "get / HTTP/1.1\r\n\r\n", 0, want{err: errBadRequestLine}},
		{"bad protocol", "GET / HTTP/2.0\r\n\r\n", 0, want{err: errBadRequestLine}},
		{"no protocol", "GET /\r\n\r\n", 0, want{err: errBadRequestLine}},
		{"relative target", "GET ws HTTP/1.1\r\n\r\n", 0, want{err: errBadRequestLine}},
		{"double space", "GET  / HTTP/1.1\r\n\r\n", 0, want{err: errBadRequestLine}},
		{"leading space", " GET / HTTP/1.1\r\n\r\n", 0, want{err: errBadRequestLine}},
		{"blank request line", "\r\n\r\n", 0, want{err: errBadRequestLine}},
		{"bad request line early", "HELLO\r\n", 0, want{err: errBadRequestLine}},
		{"binary junk early", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 0, want{err: errBadRequestLine}},
		{"header without colon", "GET / HTTP/1.1\r\nHost example\r\n\r\n", 0, want{err: errBadHeader}},
		{"header empty name", "GET / HTTP/1.1\r\n: x\r\n\r\n", 0, want{err: errBadHeader}},
		{"content-length negative", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, want{err: errBadLength}},
		{"content-length not a number", "POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 0, want{err: errBadLength}},
		{"content-length empty", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 0, want{err: errBadLength}},
		{"content-length overflow", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, want{err: errBadLength}},
		{"content-length conflicting", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 0, want{err: errBadLength}},
		{"content-length plus sign", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 0, want{err: errBadLength}},
		{"content-length minus zero", "POST / HTTP/1.1\r\nContent-Length: -0\r\n\r\n", 0, want{err: errBadLength}},
		{"content-length leading zeros", "POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n", 0,
			want{complete: true, method: "POST", target: "/", path: "/", bodyLen: 7}},
		{"content-length list", "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", 0, want{err: errBadLength}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.max
			if m == 0 {
				m = max
			}
			b := []byte(tc.in)
			v := checkSniff(t, b, m) // the general invariants
			if v.complete != tc.want.complete || v.err != tc.want.err {
				t.Fatalf("complete=%v err=%v, want complete=%v err=%v", v.complete, v.err, tc.want.complete, tc.want.err)
			}
			if !v.complete {
				return
			}
			h := v.h
			if string(h.method) != tc.want.method || string(h.target) != tc.want.target || string(h.path) != tc.want.path ||
				h.bodyLen != tc.want.bodyLen || h.chunked != tc.want.chunked {
				t.Fatalf("got %q %q %q body=%d chunked=%v, want %+v", h.method, h.target, h.path, h.bodyLen, h.chunked, tc.want)
			}
			if end := strings.Index(tc.in, "\r\n\r\n") + 4; h.headerLen != end {
				t.Fatalf("headerLen %d, want %d", h.headerLen, end)
			}
		})
	}
}

// Every prefix of a valid head is "need more", never an error.
func TestSniffRequestPrefixes(t *testing.T) {
	in := []byte("POST /auth?nickname=bob HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	end := strings.Index(string(in), "\r\n\r\n") + 4
	for k := 0; k < end; k++ {
		if v := checkSniff(t, in[:k], 8<<10); v.complete || v.err != nil {
			t.Fatalf("prefix %q: %+v", in[:k], v)
		}
	}
	for k := end; k <= len(in); k++ {
		if v := checkSniff(t, in[:k], 8<<10); !v.complete || v.h.headerLen != end || v.h.bodyLen != 5 {
			t.Fatalf("prefix %q: %+v", in[:k], v)
		}
	}
}

// Regression (FuzzSniffRequest, testdata/fuzz/FuzzSniffRequest/b21321a65cae15c6):
// a bad request line was reported as such when it arrived alone, but as
// "header too large" once more bytes pushed the buffer over the limit, so
// the answer (400 or 431) depended on how the bytes were split.
func TestSniffRequestVerdictIndependentOfSplit(t *testing.T) {
	const max = 64
	in := []byte("BAD\n" + strings.Repeat("x", 100))
	for k := 4; k <= len(in); k++ {
		if _, _, err := sniffRequest(in[:k], max); err != errBadRequestLine {
			t.Fatalf("%d bytes: err %v, want %v", k, err, errBadRequestLine)
		}
	}
	// A newline past the limit does not count: still too large.
	in = []byte(strings.Repeat("x", max) + "\n")
	if _, _, err := sniffRequest(in, max); err != errHeaderTooLarge {
		t.Fatalf("err %v, want %v", err, errHeaderTooLarge)
	}
}

// Regression: the complete head was cut before its final CRLF, so a request
// line ending in CR CR LF was refused while the blank line had not arrived
// (the CR left after trimming one made the protocol "HTTP/1.1\r") but
// accepted once it had (the cut removed the extra CR).
func TestSniffRequestLineEndingCRCR(t *testing.T) {
	in := []byte("GET / HTTP/1.1\r\r\n\r\n")
	for k := 17; k <= len(in); k++ {
		if _, complete, err := sniffRequest(in[:k], 8<<10); complete || err != errBadRequestLine {
			t.Fatalf("%q: complete=%v err=%v, want %v", in[:k], complete, err, errBadRequestLine)
		}
	}
	in = []byte("GET / HTTP/1.1\r\nHost: x\r\r\n\r\n")
	if h, complete, err := sniffRequest(in, 8<<10); !complete || err != nil || h.headerLen != len(in) {
		t.Fatalf("header line ending CR CR LF: complete=%v err=%v headerLen=%d", complete, err, h.headerLen)
	}
}
