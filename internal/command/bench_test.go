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
		f := AppendMessage(buf, "alice", "global", body, 1700000000000, 123456)
		n = len(f)
		buf = f[:0]
	}
	b.SetBytes(int64(n))
}

// BenchmarkOpenSealMessage is the server's path for one message: the event
// loop encodes the open message, the room's shard seals it with its seq.
func BenchmarkOpenSealMessage(b *testing.B) {
	buf := make([]byte, 0, 256)
	sealed := make([]byte, 0, 256)
	body := []byte("hello world, this is a chat message of a typical length")
	b.ReportAllocs()
	var n int
	seq := uint64(1)
	for b.Loop() {
		o := OpenMessage(buf, "alice", "global", body, 1700000000000)
		buf = o[:0]
		f := SealMessage(append(sealed[:0], o...), seq)
		seq++
		n = len(f)
	}
	b.SetBytes(int64(n))
}
