package command

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// headroom is the largest server frame header (no mask): 2 + 8 bytes.
const headroom = 10

// begin resets dst and reserves room for the frame header, so the payload can
// be appended first and the header written in front of it without a copy.
func begin(dst []byte) []byte {
	return append(dst[:0], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}

// finish writes a FIN frame header for opcode op in front of the payload
// appended after begin and returns the whole frame. The frame starts at
// buf[0] (a shorter header moves the payload down), so a caller that reuses
// the result as its next buffer (buf = f[:0]) keeps its whole capacity.
func finish(buf []byte, op byte) []byte {
	n := len(buf) - headroom
	var size int
	switch {
	case n <= 125:
		size = 2
		buf[1] = byte(n)
	case n <= 0xFFFF:
		size = 4
		buf[1] = 126
		buf[2] = byte(n >> 8)
		buf[3] = byte(n)
	default:
		buf[1] = 127
		for i := 0; i < 8; i++ {
			buf[2+i] = byte(uint64(n) >> (56 - 8*i))
		}
		size = headroom
	}
	buf[0] = 0x80 | op
	if size < headroom {
		copy(buf[size:], buf[headroom:])
		buf = buf[:size+n]
	}
	return buf
}

// AppendMessage encodes a complete chat `message` frame into dst (reused)
// and returns it; the frame starts at dst[0]. The server's hot path uses
// OpenMessage and SealMessage instead, so the room's shard can number the
// frame without re-encoding it.
func AppendMessage[T string | []byte](dst []byte, from, room string, body T, ts int64, seq uint64) []byte {
	return finish(appendSeq(OpenMessage(dst, from, room, body, ts), seq), OpText)
}

// SealRoom is the spare capacity SealMessage needs after an open message:
// `,"seq":` (7 bytes), 20 digits and `}`.
const SealRoom = 7 + 20 + 1

// OpenMessage encodes a `message` frame into dst (reused) up to and
// including its ts field, leaving the object open and room for the frame
// header in front. The result is not a frame: SealMessage completes it once
// the room's sequence number is known.
func OpenMessage[T string | []byte](dst []byte, from, room string, body T, ts int64) []byte {
	b := begin(dst)
	b = append(b, `{"type":"message","from":`...)
	b = AppendString(b, from)
	b = append(b, `,"body":`...)
	b = AppendString(b, body)
	b = append(b, `,"room":`...)
	b = AppendString(b, room)
	b = append(b, `,"ts":`...)
	return strconv.AppendInt(b, ts, 10)
}

// SealMessage appends `,"seq":seq}` to an open message and writes the frame
// header in front of it, right-aligned in the reserved headroom so nothing
// moves. The frame is a sub-slice of open's array (it need not start at
// open[0]). It allocates nothing when open has SealRoom spare capacity.
func SealMessage(open []byte, seq uint64) []byte {
	b := appendSeq(open, seq)
	n := len(b) - headroom
	var h [headroom]byte
	size := 2
	switch {
	case n <= 125:
		h[1] = byte(n)
	case n <= 0xFFFF:
		size = 4
		h[1] = 126
		h[2] = byte(n >> 8)
		h[3] = byte(n)
	default:
		size = headroom
		h[1] = 127
		for i := 0; i < 8; i++ {
			h[2+i] = byte(uint64(n) >> (56 - 8*i))
		}
	}
	h[0] = 0x80 | OpText
	start := headroom - size
	copy(b[start:headroom], h[:size])
	return b[start:]
}

func appendSeq(b []byte, seq uint64) []byte {
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	return append(b, '}')
}

// Payload returns the payload of a complete unmasked server frame (as made
// by this package), so stored frames can be embedded in another frame.
func Payload(frame []byte) []byte {
	switch frame[1] & 0x7F {
	case 126:
		return frame[4:]
	case 127:
		return frame[headroom:]
	}
	return frame[2:]
}

// AppendSystemMessage encodes a `message` frame the server itself sends
// (admin broadcasts): from `system` and marked `"server":true`, a field no
// user's message carries, so clients tell the server from a user by the
// frame's structure, not by the `from` name.
func AppendSystemMessage(dst []byte, room, body string, ts int64, seq uint64) []byte {
	b := append(OpenMessage(dst, System, room, body, ts), `,"server":true`...)
	return finish(appendSeq(b, seq), OpText)
}

// AppendMembership encodes a `joined` or `left` event (typ) for nick in room.
func AppendMembership(dst []byte, typ, room, nick string) []byte {
	b := appendMembership(dst, typ, room, nick)
	b = append(b, '}')
	return finish(b, OpText)
}

// AppendOwnJoined encodes the `joined` event a member receives for itself:
// it also carries the room's current seq and epoch, from which the member
// can ask `history`.
func AppendOwnJoined(dst []byte, room, nick string, seq uint64, epoch string) []byte {
	b := appendMembership(dst, FrameJoined, room, nick)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"epoch":`...)
	b = AppendString(b, epoch)
	b = append(b, '}')
	return finish(b, OpText)
}

func appendMembership(dst []byte, typ, room, nick string) []byte {
	b := begin(dst)
	b = append(b, `{"type":`...)
	b = AppendString(b, typ)
	b = append(b, `,"from":"system","body":`...)
	b = append(b, '"')
	b = appendEscaped(b, nick)
	b = append(b, ' ')
	b = append(b, typ...)
	b = append(b, '"')
	b = append(b, `,"room":`...)
	b = AppendString(b, room)
	b = append(b, `,"nickname":`...)
	return AppendString(b, nick)
}

// AppendHistory encodes a `history` reply: the payloads of the stored
// message frames, oldest first, embedded as they are (no re-encoding). seq
// is the room's current seq, so a client that got fewer messages than exist
// after its `since` (limit) knows to ask again.
func AppendHistory(dst []byte, room, epoch string, seq uint64, frames [][]byte, complete bool, id []byte) []byte {
	b := begin(dst)
	b = append(b, `{"type":"history","from":"system","body":"","room":`...)
	b = AppendString(b, room)
	b = append(b, `,"epoch":`...)
	b = AppendString(b, epoch)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"messages":[`...)
	for i, f := range frames {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, Payload(f)...)
	}
	b = append(b, `],"complete":`...)
	b = strconv.AppendBool(b, complete)
	b = appendID(b, id)
	b = append(b, '}')
	return finish(b, OpText)
}

// AppendNick encodes a `nick` event. token and id are set only on the
// renamer's own copy (token empty and id nil elsewhere).
func AppendNick(dst []byte, old, nick, room, token string, id []byte) []byte {
	b := begin(dst)
	b = append(b, `{"type":"nick","from":"system","body":"`...)
	b = appendEscaped(b, old)
	b = append(b, ` is now `...)
	b = appendEscaped(b, nick)
	b = append(b, `","old":`...)
	b = AppendString(b, old)
	b = append(b, `,"nickname":`...)
	b = AppendString(b, nick)
	b = append(b, `,"room":`...)
	b = AppendString(b, room)
	if token != "" {
		b = append(b, `,"token":`...)
		b = AppendString(b, token)
	}
	b = appendID(b, id)
	b = append(b, '}')
	return finish(b, OpText)
}

// AppendList encodes a `users` or `rooms` reply: typ is the frame type and
// the array's key; items must already be sorted.
func AppendList(dst []byte, typ string, items []string, id []byte) []byte {
	b := begin(dst)
	b = append(b, `{"type":`...)
	b = AppendString(b, typ)
	b = append(b, `,"from":"system","body":"`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, `\n`...)
		}
		b = appendEscaped(b, it)
	}
	b = append(b, `",`...)
	b = AppendString(b, typ)
	b = append(b, `:[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, it)
	}
	b = append(b, ']')
	b = appendID(b, id)
	b = append(b, '}')
	return finish(b, OpText)
}

// AppendUsersBody appends the id-independent start of a `users` reply: one
// page of names (sorted), the room's total and whether names follow the
// page. It is not a frame: AppendUsers makes one from it, so a shard can
// keep it and answer many listusers without encoding the names again.
func AppendUsersBody(dst []byte, names []string, total int, more bool) []byte {
	b := append(dst, `{"type":"users","from":"system","body":"`...)
	for i, it := range names {
		if i > 0 {
			b = append(b, `\n`...)
		}
		b = appendEscaped(b, it)
	}
	b = append(b, `","users":[`...)
	for i, it := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, it)
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	if more {
		return append(b, `,"more":true`...)
	}
	return append(b, `,"more":false`...)
}

// AppendUsers encodes a `users` frame from a body made by AppendUsersBody.
func AppendUsers(dst []byte, body, id []byte) []byte {
	b := begin(dst)
	b = append(b, body...)
	b = appendID(b, id)
	b = append(b, '}')
	return finish(b, OpText)
}

// AppendError encodes an `error` frame with a snake_case code and human text.
func AppendError(dst []byte, code, msg string, id []byte) []byte {
	b := begin(dst)
	b = append(b, `{"type":"error","from":"system","body":`...)
	b = AppendString(b, msg)
	b = append(b, `,"code":`...)
	b = AppendString(b, code)
	b = appendID(b, id)
	b = append(b, '}')
	return finish(b, OpText)
}

// MaxCloseReason is the most bytes of reason a close frame holds: a control
// frame's payload is at most 125 bytes (RFC 6455 §5.5), 2 of them the code.
const MaxCloseReason = 123

// CloseReason cuts reason to MaxCloseReason bytes on a UTF-8 boundary (the
// reason must stay valid UTF-8, RFC 6455 §5.5.1). AppendClose applies it:
// it is the one place a close reason is cut.
func CloseReason(reason string) string {
	if len(reason) <= MaxCloseReason {
		return reason
	}
	cut := MaxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

// AppendClose encodes a close frame with a status code and a reason cut by
// CloseReason.
func AppendClose(dst []byte, code int, reason string) []byte {
	reason = CloseReason(reason)
	b := begin(dst)
	b = append(b, byte(code>>8), byte(code))
	b = append(b, reason...)
	return finish(b, OpClose)
}

// AppendPing encodes an empty ping frame.
func AppendPing(dst []byte) []byte { return finish(begin(dst), OpPing) }

// AppendPong encodes a pong echoing payload (at most 125 bytes).
func AppendPong(dst []byte, payload []byte) []byte {
	return finish(append(begin(dst), payload...), OpPong)
}

func appendID(b []byte, id []byte) []byte {
	if id == nil {
		return b
	}
	b = append(b, `,"id":`...)
	return append(b, id...)
}

// AppendString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD so the output is always valid JSON text.
func AppendString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// safe[c] is true for ASCII bytes that need no escaping in a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

func appendEscaped[T string | []byte](b []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s, i)
		if size == 0 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028/2029 are valid JSON but break JavaScript string literals.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// decodeRune decodes the UTF-8 sequence at s[i] (a non-ASCII lead byte). size
// is 0 when the sequence is invalid (bad lead, bad continuation, overlong,
// surrogate or out of range). Generic so that []byte input is never copied.
func decodeRune[T string | []byte](s T, i int) (r rune, size int) {
	c := s[i]
	var min rune
	switch {
	case c&0xE0 == 0xC0:
		r, size, min = rune(c&0x1F), 2, 0x80
	case c&0xF0 == 0xE0:
		r, size, min = rune(c&0x0F), 3, 0x800
	case c&0xF8 == 0xF0:
		r, size, min = rune(c&0x07), 4, 0x10000
	default:
		return 0, 0
	}
	if i+size > len(s) {
		return 0, 0
	}
	for k := 1; k < size; k++ {
		cc := s[i+k]
		if cc&0xC0 != 0x80 {
			return 0, 0
		}
		r = r<<6 | rune(cc&0x3F)
	}
	if r < min || r > utf8.MaxRune || (r >= 0xD800 && r <= 0xDFFF) {
		return 0, 0
	}
	return r, size
}

// Reseal renumbers a sealed `message` frame (one SealMessage made, maybe on
// another node) with seq: the payload up to its trailing `,"seq":N}` is
// copied once into a fresh open frame and sealed again; frame itself is not
// touched (it is shared with the sender's members and history). A cluster
// node numbers every message of a room it delivers in its own history line,
// so the frame from another node is renumbered here, once per node, not per
// member. ok is false when frame is not one whole unmasked text frame whose
// payload is a message object ending in its seq.
func Reseal(frame []byte, seq uint64) (out []byte, ok bool) {
	p, ok := wholePayload(frame)
	if !ok || !bytes.HasPrefix(p, []byte(`{"type":"message",`)) {
		return nil, false
	}
	i := bytes.LastIndex(p, []byte(`,"seq":`))
	if i < 0 || !isSeqTail(p[i+len(`,"seq":`):]) {
		return nil, false
	}
	open := make([]byte, headroom, headroom+i+SealRoom)
	open = append(open, p[:i]...)
	return SealMessage(open, seq), true
}

// wholePayload is Payload for bytes from elsewhere: ok only for one whole
// FIN unmasked text frame whose header states exactly its length.
func wholePayload(frame []byte) ([]byte, bool) {
	if len(frame) < 2 || frame[0] != 0x80|OpText || frame[1]&0x80 != 0 {
		return nil, false
	}
	n, size := uint64(frame[1]), 2
	switch n {
	case 126:
		if len(frame) < 4 {
			return nil, false
		}
		n, size = uint64(frame[2])<<8|uint64(frame[3]), 4
	case 127:
		if len(frame) < headroom {
			return nil, false
		}
		n = 0
		for _, c := range frame[2:headroom] {
			n = n<<8 | uint64(c)
		}
		size = headroom
	}
	if uint64(len(frame)-size) != n {
		return nil, false
	}
	return frame[size:], true
}

// isSeqTail reports whether t is the digits of a seq and the closing brace.
func isSeqTail(t []byte) bool {
	if len(t) < 2 || len(t) > 21 || t[len(t)-1] != '}' {
		return false
	}
	for _, c := range t[:len(t)-1] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
