package loadgen

import (
	"bytes"
	"strconv"
)

// Outcome classifies one observed sequence number.
type Outcome int

// Outcomes of Stream.Observe.
const (
	InOrder   Outcome = iota // the next expected sequence number, or a jump ahead past a gap
	Late                     // an earlier gap filled: counted once, as reordered
	Duplicate                // already seen
)

// maxGaps bounds how many missing sequence numbers one stream remembers;
// beyond it a late arrival is indistinguishable from a duplicate.
const maxGaps = 1 << 16

// Stream checks the sequence numbers of one publisher as seen by one
// receiver. Sequence numbers start at 0. The zero value is ready to use.
type Stream struct {
	next      uint64
	gaps      map[uint64]struct{}
	Unique    uint64 // distinct sequence numbers seen
	Dup       uint64 // repeats
	Reordered uint64 // arrivals after a later sequence number
}

// Observe accounts for seq and says how it arrived.
func (s *Stream) Observe(seq uint64) Outcome {
	switch {
	case seq == s.next:
		s.next++
		s.Unique++
		return InOrder
	case seq > s.next:
		if s.gaps == nil {
			s.gaps = make(map[uint64]struct{})
		}
		for m := s.next; m < seq && len(s.gaps) < maxGaps; m++ {
			s.gaps[m] = struct{}{}
		}
		s.next = seq + 1
		s.Unique++
		return InOrder
	default:
		if _, ok := s.gaps[seq]; ok {
			delete(s.gaps, seq)
			s.Unique++
			s.Reordered++
			return Late
		}
		s.Dup++
		return Duplicate
	}
}

// Lost is how many of sent messages (sequence numbers 0..sent-1) were never seen.
func (s *Stream) Lost(sent uint64) uint64 {
	if s.Unique >= sent {
		return 0
	}
	return sent - s.Unique
}

// markerPrefix starts every generated message body; receivers find it by
// scanning the frame instead of decoding JSON.
var markerPrefix = []byte("ICSLG|")

// appendBody appends a message body for publisher pub, sequence seq and
// intended send time intendedNs (unix ns), padded with 'x' to size bytes.
func appendBody(dst []byte, pub int, seq uint64, intendedNs int64, size int) []byte {
	start := len(dst)
	dst = append(dst, markerPrefix...)
	dst = strconv.AppendInt(dst, int64(pub), 10)
	dst = append(dst, '|')
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, intendedNs, 10)
	dst = append(dst, '|')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// parseMarker finds a generator body in frame and decodes it.
func parseMarker(frame []byte) (pub int, seq uint64, intendedNs int64, ok bool) {
	i := bytes.Index(frame, markerPrefix)
	if i < 0 {
		return 0, 0, 0, false
	}
	b := frame[i+len(markerPrefix):]
	var v [3]uint64
	for k := range v {
		n := 0
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			v[k] = v[k]*10 + uint64(b[n]-'0')
			n++
		}
		if n == 0 || n >= len(b) || b[n] != '|' {
			return 0, 0, 0, false
		}
		b = b[n+1:]
	}
	return int(v[0]), v[1], int64(v[2]), true
}
