package wsio

import (
	"bytes"
	"errors"
	"strconv"
)

// requestHead is what the event loop needs to know about an HTTP request
// before deciding where it goes: the bytes stay in gnet's buffer (borrowed).
type requestHead struct {
	method    []byte
	target    []byte
	path      []byte
	headerLen int  // bytes up to and including the blank line
	bodyLen   int  // Content-Length (0 when absent)
	chunked   bool // Transfer-Encoding: chunked
}

var (
	errHeaderTooLarge = errors.New("request header too large")
	errBadRequestLine = errors.New("malformed request line")
	errBadHeader      = errors.New("malformed header line")
	errBadLength      = errors.New("invalid Content-Length")
)

var crlfcrlf = []byte("\r\n\r\n")

// sniffRequest looks for a complete request head at the start of b. It
// returns complete=false while the blank line has not arrived (and b is still
// under maxHeader), and an error for anything that cannot become a valid
// request.
func sniffRequest(b []byte, maxHeader int) (h requestHead, complete bool, err error) {
	limit := b
	if len(limit) > maxHeader {
		limit = limit[:maxHeader]
	}
	end := bytes.Index(limit, crlfcrlf)
	if end < 0 {
		// A request line that is already wrong need not wait for more.
		// Checked first, and only within the limit, so the verdict does
		// not depend on how the bytes were split across reads.
		if nl := bytes.IndexByte(limit, '\n'); nl >= 0 {
			if _, _, ok := parseRequestLine(b[:nl]); !ok {
				return h, false, errBadRequestLine
			}
		}
		if len(b) >= maxHeader {
			return h, false, errHeaderTooLarge
		}
		return h, false, nil
	}
	h.headerLen = end + 4
	// Every line of the head, the last one included, ends with its "\n",
	// so the request line is cut exactly as in the incomplete case above
	// (a line ending in "\r\r\n" is refused both ways).
	head := b[:end+2]
	nl := bytes.IndexByte(head, '\n')
	line, rest := head[:nl], head[nl+1:]
	var ok bool
	h.method, h.target, ok = parseRequestLine(line)
	if !ok {
		return h, false, errBadRequestLine
	}
	h.path = h.target
	if q := bytes.IndexByte(h.path, '?'); q >= 0 {
		h.path = h.path[:q]
	}
	seenLength := false
	for len(rest) > 0 {
		var l []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			l, rest = rest, nil
		}
		l = bytes.TrimSuffix(l, []byte{'\r'})
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return h, false, errBadHeader
		}
		k := l[:colon]
		v := bytes.TrimSpace(l[colon+1:])
		switch {
		case asciiEqualFold(k, "content-length"):
			// 1*DIGIT (RFC 9110 §8.6): Atoi alone also takes "+5" and
			// "-0", which net/http, reading the same bytes, refuses.
			n, perr := strconv.Atoi(string(v))
			if perr != nil || n < 0 || v[0] < '0' || v[0] > '9' || (seenLength && n != h.bodyLen) {
				return h, false, errBadLength
			}
			h.bodyLen, seenLength = n, true
		case asciiEqualFold(k, "transfer-encoding"):
			if !asciiEqualFold(v, "identity") {
				h.chunked = true
			}
		}
	}
	return h, true, nil
}

// parseRequestLine splits "METHOD target HTTP/1.x".
func parseRequestLine(line []byte) (method, target []byte, ok bool) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, nil, false
	}
	method = line[:sp1]
	for _, c := range method {
		if c < 'A' || c > 'Z' {
			return nil, nil, false
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return nil, nil, false
	}
	target = rest[:sp2]
	proto := rest[sp2+1:]
	if !bytes.Equal(proto, []byte("HTTP/1.1")) && !bytes.Equal(proto, []byte("HTTP/1.0")) {
		return nil, nil, false
	}
	if target[0] != '/' && !bytes.Equal(target, []byte("*")) {
		return nil, nil, false
	}
	return method, target, true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
