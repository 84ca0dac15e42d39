package loadgen

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"math"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

func TestStreamAccounting(t *testing.T) {
	tests := []struct {
		name                  string
		seqs                  []uint64
		sent                  uint64
		unique, dup, reord, l uint64
	}{
		{"in order", []uint64{0, 1, 2, 3}, 4, 4, 0, 0, 0},
		{"empty", nil, 3, 0, 0, 0, 3},
		{"tail lost", []uint64{0, 1}, 4, 2, 0, 0, 2},
		{"gap lost", []uint64{0, 2, 3}, 4, 3, 0, 0, 1},
		{"head lost", []uint64{1, 2, 3}, 4, 3, 0, 0, 1},
		{"duplicate", []uint64{0, 1, 1, 2}, 3, 3, 1, 0, 0},
		{"dup of old", []uint64{0, 1, 2, 0}, 3, 3, 1, 0, 0},
		{"swap", []uint64{0, 2, 1, 3}, 4, 4, 0, 1, 0},
		{"late then dup", []uint64{2, 0, 1, 0}, 3, 3, 1, 2, 0},
		{"reversed", []uint64{3, 2, 1, 0}, 4, 4, 0, 3, 0},
		{"more seen than sent", []uint64{0, 1, 2}, 2, 3, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Stream
			for _, q := range tc.seqs {
				s.Observe(q)
			}
			if s.Unique != tc.unique || s.Dup != tc.dup || s.Reordered != tc.reord || s.Lost(tc.sent) != tc.l {
				t.Fatalf("seqs %v sent %d: unique=%d dup=%d reordered=%d lost=%d; want %d %d %d %d",
					tc.seqs, tc.sent, s.Unique, s.Dup, s.Reordered, s.Lost(tc.sent), tc.unique, tc.dup, tc.reord, tc.l)
			}
		})
	}
}

func TestObserveOutcomes(t *testing.T) {
	var s Stream
	want := []struct {
		seq uint64
		out Outcome
	}{{0, InOrder}, {2, InOrder}, {1, Late}, {1, Duplicate}, {3, InOrder}}
	for _, w := range want {
		if got := s.Observe(w.seq); got != w.out {
			t.Fatalf("Observe(%d) = %v, want %v", w.seq, got, w.out)
		}
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	tests := []struct {
		pub  int
		seq  uint64
		ts   int64
		size int
	}{
		{0, 0, 1, 0},
		{7, 42, 1_700_000_000_123_456_789, 100},
		{99999, math.MaxUint32, 5, 4096},
	}
	for _, tc := range tests {
		body := appendBody(nil, tc.pub, tc.seq, tc.ts, tc.size)
		if tc.size > 0 && len(body) < tc.size {
			t.Fatalf("body len %d < size %d", len(body), tc.size)
		}
		if tc.size >= 40 && len(body) != tc.size {
			t.Fatalf("body len %d, want exactly %d", len(body), tc.size)
		}
		frame := []byte(`{"type":"message","from":"lg1","body":"` + string(body) + `","room":"global","ts":1}`)
		pub, seq, ts, ok := parseMarker(frame)
		if !ok || pub != tc.pub || seq != tc.seq || ts != tc.ts {
			t.Fatalf("parseMarker(%q) = %d %d %d %v, want %d %d %d", frame, pub, seq, ts, ok, tc.pub, tc.seq, tc.ts)
		}
	}
	for _, bad := range []string{`{"body":"hello"}`, `ICSLG|`, `ICSLG|1|2`, `ICSLG|a|2|3|`, `ICSLG|1|2|3`} {
		if _, _, _, ok := parseMarker([]byte(bad)); ok {
			t.Fatalf("parseMarker(%q) ok, want not ok", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	h := newHist()
	for v := int64(1); v <= 1000; v++ { // 1µs..1000µs uniformly
		recordNs(h, v*1000)
	}
	s := Summarize(h)
	tests := []struct {
		name      string
		got, want float64
	}{
		{"p50", s.P50Ms, 0.5},
		{"p90", s.P90Ms, 0.9},
		{"p99", s.P99Ms, 0.99},
		{"p99.9", s.P999Ms, 0.999},
		{"max", s.MaxMs, 1.0},
		{"mean", s.MeanMs, 0.5005},
	}
	for _, tc := range tests {
		if math.Abs(tc.got-tc.want) > tc.want*0.002+0.001 {
			t.Errorf("%s = %v ms, want %v ms", tc.name, tc.got, tc.want)
		}
	}
	if s.Count != 1000 {
		t.Errorf("count = %d, want 1000", s.Count)
	}
	// clamping
	recordNs(h, -5)
	recordNs(h, int64(time.Hour))
	if h.TotalCount() != 1002 || Summarize(h).MaxMs < 599_000 {
		t.Errorf("clamped values not recorded: count %d max %v", h.TotalCount(), Summarize(h).MaxMs)
	}
	if (Summarize(nil) != LatencySummary{}) {
		t.Errorf("Summarize(nil) not zero")
	}
}

func TestFrameReader(t *testing.T) {
	// unmasked server frames: small text, 126-length text, ping, fragmented text
	var b []byte
	b = append(b, 0x81, 5)
	b = append(b, "hello"...)
	big := make([]byte, 300)
	for i := range big {
		big[i] = 'a'
	}
	b = append(b, 0x81, 126, 1, 44)
	b = append(b, big...)
	b = append(b, 0x89, 2, 'p', 'i')
	b = append(b, 0x01, 3, 'f', 'o', 'o')
	b = append(b, 0x80, 3, 'b', 'a', 'r')
	var r frameReader
	sink := &recSink{}
	// feed byte-by-byte growing windows to exercise partial frames
	consumed := 0
	for end := 1; end <= len(b); end++ {
		n, err := r.feed(b[consumed:end], sink)
		if err != nil {
			t.Fatal(err)
		}
		consumed += n
	}
	if consumed != len(b) {
		t.Fatalf("consumed %d of %d", consumed, len(b))
	}
	want := []string{"hello", string(big), "foobar"}
	if len(sink.msgs) != len(want) {
		t.Fatalf("got %d messages %q, want %d", len(sink.msgs), sink.msgs, len(want))
	}
	for i := range want {
		if sink.msgs[i] != want[i] {
			t.Fatalf("message %d = %q, want %q", i, sink.msgs[i], want[i])
		}
	}
	if len(sink.ctrl) != 1 || sink.ctrl[0] != "9:pi" {
		t.Fatalf("control frames %q, want [9:pi]", sink.ctrl)
	}
}

type recSink struct{ msgs, ctrl []string }

func (s *recSink) onMessage(p []byte) { s.msgs = append(s.msgs, string(p)) }
func (s *recSink) onControl(op byte, p []byte) {
	s.ctrl = append(s.ctrl, string(rune('0'+op))+":"+string(p))
}

func TestAppendFrameMasked(t *testing.T) {
	for _, n := range []int{0, 10, 125, 126, 65535, 65536} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i)
		}
		f := appendFrame(nil, command.OpText, p)
		h, ok, err := parseHeader(f)
		if err != nil || !ok || !h.masked || h.length != n || h.op != command.OpText || !h.fin {
			t.Fatalf("n=%d: header %+v ok=%v err=%v", n, h, ok, err)
		}
		got := f[h.hdrLen:]
		for i := range got {
			got[i] ^= h.key[i&3]
		}
		for i := range p {
			if got[i] != p[i] {
				t.Fatalf("n=%d: byte %d = %d, want %d", n, i, got[i], p[i])
			}
		}
	}
}

func TestSourceIP(t *testing.T) {
	tests := []struct {
		per, offset, i int
		want           string
	}{
		{25000, 0, 0, "127.0.0.1"},
		{25000, 0, 24999, "127.0.0.1"},
		{25000, 0, 25000, "127.0.0.2"},
		{25000, 20000, 5000, "127.0.0.2"},
		{100, 0, 256 * 100, "127.0.1.1"},
		{0, 0, 5, "<nil>"},
	}
	for _, tc := range tests {
		cfg := DefaultConfig()
		cfg.ConnsPerSourceIP, cfg.ConnOffset = tc.per, tc.offset
		if err := cfg.Validate("connect"); err != nil {
			t.Fatal(err)
		}
		d, err := newDialer(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.srcIP(tc.i).String(); got != tc.want {
			t.Errorf("per %d offset %d slot %d: source %s, want %s", tc.per, tc.offset, tc.i, got, tc.want)
		}
	}
}

func TestHandshakeEcho(t *testing.T) {
	tests := []struct {
		name, echo string
		strict, ok bool
	}{
		{"echo ics.v1", "ics.v1", true, true},
		{"no echo strict", "", true, false},
		{"no echo seed", "", false, true},
		{"wrong echo", "other", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			go func() {
				defer server.Close()
				req, err := http.ReadRequest(bufio.NewReader(server))
				if err != nil {
					return
				}
				h := sha1.New()
				h.Write([]byte(req.Header.Get("Sec-WebSocket-Key")))
				h.Write(wsGUID)
				resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
					base64.StdEncoding.EncodeToString(h.Sum(nil)) + "\r\n"
				if tc.echo != "" {
					resp += "Sec-WebSocket-Protocol: " + tc.echo + "\r\n"
				}
				_, _ = server.Write([]byte(resp + "\r\n\x81\x02hi"))
			}()
			left, err := clientHandshake(context.Background(), client, "x", "/ws", "ics.v1, tok", tc.strict)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err == nil && string(left) != "\x81\x02hi" {
				t.Fatalf("leftover %q, want the first frame", left)
			}
		})
	}
}
