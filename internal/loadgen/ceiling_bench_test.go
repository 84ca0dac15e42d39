package loadgen

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blaster is a minimal server that upgrades every /ws request and then
// writes generator-marked message frames (publisher 0, rising sequence
// numbers, 100-byte bodies) as fast as the socket takes them, k frames per
// write. It stands in for a server far faster than any real one so the
// generator's own receive ceiling shows.
func blaster(b *testing.B, k int) (addr string, start, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var quit atomic.Bool
	var startOnce sync.Once
	begin := make(chan struct{})
	var wg sync.WaitGroup
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token":"%s"}`, r.URL.Query().Get("nickname"))
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		h := sha1.New()
		h.Write([]byte(r.Header.Get("Sec-WebSocket-Key")))
		h.Write(wsGUID)
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: ics.v1\r\n\r\n",
			base64.StdEncoding.EncodeToString(h.Sum(nil)))
		_ = brw.Flush()
		<-begin // all connections up first
		var seq uint64
		buf := make([]byte, 0, k*200)
		for !quit.Load() {
			buf = buf[:0]
			for i := 0; i < k; i++ {
				start := len(buf)
				buf = append(buf, 0x81, 126, 0, 0)
				buf = append(buf, `{"type":"message","from":"b","body":"`...)
				buf = appendBody(buf, 0, seq, time.Now().UnixNano(), 100)
				buf = append(buf, `","room":"global","ts":1}`...)
				n := len(buf) - start - 4
				buf[start+2], buf[start+3] = byte(n>>8), byte(n)
				seq++
			}
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
		}
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { startOnce.Do(func() { close(begin) }) }, func() {
		startOnce.Do(func() { close(begin) })
		quit.Store(true)
		_ = srv.Close()
		wg.Wait()
	}
}

// BenchmarkGeneratorCeiling measures how many deliveries/s the generator's
// event loops can receive and check (parse, marker scan, sequence check,
// histogram) from 64 connections fed by a blaster writing 64 frames per
// write. On a machine where the blaster and the generator share the CPUs
// this is a lower bound. One op is one delivery.
func BenchmarkGeneratorCeiling(b *testing.B) {
	addr, start, stop := blaster(b, 64)
	defer stop()
	cfg := DefaultConfig()
	cfg.Addr, cfg.Prefix, cfg.Rooms, cfg.Publishers = addr, "ceil", 1, 1
	if err := cfg.Validate("fanout"); err != nil {
		b.Fatal(err)
	}
	e, err := newEngine(&cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer e.stop()
	for i := 0; i < 64; i++ {
		if _, _, err := e.connect(context.Background(), i, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start()
	t0 := time.Now()
	base, _ := e.totals()
	for {
		time.Sleep(5 * time.Millisecond)
		if d, _ := e.totals(); d-base >= uint64(b.N) {
			break
		}
	}
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "deliveries/s")
}
