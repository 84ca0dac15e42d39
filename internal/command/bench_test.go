package command

import "testing"

var benchMessage = []byte(`{"type":"message","args":{"body":"hello world, this is a chat message of a typical length"},"id":"42"}`)

func BenchmarkDecodeMessage(b *testing.B) {
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		cmd, err := d.Decode(benchMessage)
		if err != nil || cmd.Type != TypeMessage || len(cmd.Arg) == 0 || len(cmd.ID) == 0 {
			b.Fatalf("decode: %+v %v", cmd, err)
		}
	}
}

func BenchmarkEncodeMessage(b *testing.B) {
	buf := make([]byte, 0, 256)
	body := []byte("hello world, this is a chat message of a typical length")
	b.ReportAllocs()
	var n int
	for b.Loop() {
		f := AppendMessage(buf, "alice", "global", body, 1700000000000)
		n = len(f)
		buf = f[:0]
	}
	b.SetBytes(int64(n))
}
