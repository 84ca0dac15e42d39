package loadgen

import (
	"testing"
)

// BenchmarkReceivePath measures the generator's per-delivery cost on the
// receive side (frame parsing, marker scan, sequence accounting, histogram
// record) for 100-byte bodies arriving 64 frames per read. One op is one
// delivery; it bounds how many deliveries/s one event loop can check.
func BenchmarkReceivePath(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Rooms, cfg.Publishers = 1, 1
	e := &engine{cfg: &cfg, pubsPerRoom: 1}
	e.measureFrom.Store(0)
	sh := &shard{hist: newHist(), win: newHist(), errCodes: map[string]int64{}, closeCodes: map[int]int64{}}
	lc := &lgConn{e: e, sh: sh, streams: make([]Stream, 1), now: 2_000_000_000}
	const batch = 64
	var frames [][]byte
	b.ReportAllocs()
	seq := uint64(0)
	mk := func() []byte {
		var buf []byte
		for i := 0; i < batch; i++ {
			body := appendBody(nil, 0, seq, 1_000_000_000, 100)
			seq++
			p := []byte(`{"type":"message","from":"lg_1","body":"` + string(body) + `","room":"global","ts":1700000000000}`)
			buf = append(buf, 0x81, 126, byte(len(p)>>8), byte(len(p)))
			buf = append(buf, p...)
		}
		return buf
	}
	for len(frames) < 256 {
		frames = append(frames, mk())
	}
	lc.streams[0] = Stream{}
	i := 0
	for n := 0; n < b.N; n += batch {
		f := frames[i%len(frames)]
		if i > 0 && i%len(frames) == 0 {
			lc.streams[0] = Stream{} // replaying the same sequence numbers: reset to avoid counting duplicates
		}
		i++
		if _, err := lc.fr.feed(f, lc); err != nil {
			b.Fatal(err)
		}
	}
	if sh.delivered == 0 {
		b.Fatal("nothing delivered")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
