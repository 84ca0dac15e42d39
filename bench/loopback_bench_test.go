package bench

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkLoopbackWrite measures the kernel's loopback ceiling for 100-byte
// frames written k per write(2) to one TCP socket while a reader drains the
// other end. It reports frames/s; one op is one frame.
func BenchmarkLoopbackWrite(b *testing.B) {
	const frameSize = 100
	for _, k := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatalf("listen on 127.0.0.1:0: %v", err)
			}
			defer ln.Close()
			done := make(chan int64, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- 0
					return
				}
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				done <- n
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatalf("dial %s: %v", ln.Addr(), err)
			}
			buf := make([]byte, k*frameSize)
			for i := range buf {
				buf[i] = byte(i)
			}
			b.SetBytes(frameSize)
			b.ResetTimer()
			start := time.Now()
			for sent := 0; sent < b.N; sent += k {
				n := k
				if b.N-sent < k {
					n = b.N - sent
				}
				if _, err := c.Write(buf[:n*frameSize]); err != nil {
					b.Fatalf("write: %v", err)
				}
			}
			_ = c.(*net.TCPConn).CloseWrite()
			got := <-done
			el := time.Since(start)
			b.StopTimer()
			c.Close()
			if got != int64(b.N)*frameSize {
				b.Fatalf("reader got %d bytes, want %d", got, int64(b.N)*frameSize)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "frames/s")
		})
	}
}
