package wsio

import (
	"encoding/binary"

	"github.com/ics-chat/ics/internal/command"
)

// frameHeader is a parsed client frame header.
type frameHeader struct {
	fin    bool
	op     byte
	masked bool
	mask   [4]byte
	length int // payload length
	size   int // header length in bytes
}

// frameError is a protocol violation: the connection must close with code.
type frameError struct {
	code   int
	reason string
}

// parseFrameHeader parses the header at the start of b. ok is false when b
// holds only part of a header. Lengths over maxPayload fail with 1009 before
// any of the payload is buffered.
func parseFrameHeader(b []byte, maxPayload int) (h frameHeader, ok bool, fe *frameError) {
	if len(b) < 2 {
		return h, false, nil
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&0x80 != 0
	h.op = b0 & 0x0F
	h.masked = b1&0x80 != 0
	if b0&0x70 != 0 {
		return h, false, &frameError{1002, "reserved bits set"}
	}
	switch h.op {
	case command.OpContinuation, command.OpText, command.OpBinary:
	case command.OpClose, command.OpPing, command.OpPong:
		if !h.fin {
			return h, false, &frameError{1002, "fragmented control frame"}
		}
		if b1&0x7F > 125 {
			return h, false, &frameError{1002, "control frame too long"}
		}
	default:
		return h, false, &frameError{1002, "unknown opcode"}
	}
	if !h.masked {
		return h, false, &frameError{1002, "client frames must be masked"}
	}
	n := int(b1 & 0x7F)
	size := 2
	switch n {
	case 126:
		if len(b) < 4 {
			return h, false, nil
		}
		n = int(binary.BigEndian.Uint16(b[2:4]))
		size = 4
	case 127:
		if len(b) < 10 {
			return h, false, nil
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u > uint64(maxPayload) {
			return h, false, &frameError{1009, "message too big"}
		}
		n = int(u)
		size = 10
	}
	if n > maxPayload {
		return h, false, &frameError{1009, "message too big"}
	}
	if len(b) < size+4 {
		return h, false, nil
	}
	copy(h.mask[:], b[size:size+4])
	h.size = size + 4
	h.length = n
	return h, true, nil
}

// unmask XORs p with the mask in place, 8 bytes at a time where it can.
func unmask(p []byte, mask [4]byte) {
	if len(p) >= 8 {
		m32 := uint32(mask[0]) | uint32(mask[1])<<8 | uint32(mask[2])<<16 | uint32(mask[3])<<24
		m64 := uint64(m32) | uint64(m32)<<32
		for len(p) >= 8 {
			v := binary.LittleEndian.Uint64(p)
			binary.LittleEndian.PutUint64(p, v^m64)
			p = p[8:]
		}
	}
	for i := range p {
		p[i] ^= mask[i&3]
	}
}

// validCloseCode reports whether a peer may send code in a close frame.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
