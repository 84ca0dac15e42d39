package bench

import (
	"encoding/json"
	"testing"

	"github.com/bytedance/sonic"
	"github.com/valyala/fastjson"
)

// command is a client → server command as the server decodes it.
type command struct {
	Type string `json:"type"`
	Args struct {
		Body string `json:"body"`
	} `json:"args"`
	ID string `json:"id"`
}

var sample = []byte(`{"type":"message","args":{"body":"hello world, this is a typical chat message of about a hundred bytes.."},"id":"42"}`)

func check(b *testing.B, typ, body, id string) {
	if typ != "message" || id != "42" || len(body) == 0 {
		b.Fatalf("decoded type=%q id=%q body=%q", typ, id, body)
	}
}

// TestDecodersAgree keeps the benchmarks honest: all three decode the same.
func TestDecodersAgree(t *testing.T) {
	var a, c command
	if err := json.Unmarshal(sample, &a); err != nil {
		t.Fatal(err)
	}
	if err := sonic.Unmarshal(sample, &c); err != nil {
		t.Fatal(err)
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(sample)
	if err != nil {
		t.Fatal(err)
	}
	fb := string(v.GetStringBytes("args", "body"))
	if a != c || a.Args.Body != fb || a.Type != string(v.GetStringBytes("type")) {
		t.Fatalf("decoders disagree: json %+v sonic %+v fastjson body %q", a, c, fb)
	}
}

func BenchmarkDecode(b *testing.B) {
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(sample)))
		for b.Loop() {
			var c command
			if err := json.Unmarshal(sample, &c); err != nil {
				b.Fatal(err)
			}
			check(b, c.Type, c.Args.Body, c.ID)
		}
	})
	b.Run("sonic", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(sample)))
		for b.Loop() {
			var c command
			if err := sonic.Unmarshal(sample, &c); err != nil {
				b.Fatal(err)
			}
			check(b, c.Type, c.Args.Body, c.ID)
		}
	})
	b.Run("fastjson_pooled", func(b *testing.B) {
		var pool fastjson.ParserPool
		b.ReportAllocs()
		b.SetBytes(int64(len(sample)))
		for b.Loop() {
			p := pool.Get()
			v, err := p.ParseBytes(sample)
			if err != nil {
				b.Fatal(err)
			}
			// the body bytes alias the parser; a server copies them once into the broadcast
			check(b, string(v.GetStringBytes("type")), string(v.GetStringBytes("args", "body")), string(v.GetStringBytes("id")))
			pool.Put(p)
		}
	})
}
