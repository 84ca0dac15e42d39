package bench

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ics-chat/ics/bench/gorillahub"
)

// BenchmarkGorillaFanout runs the load generator against the gorilla
// baseline over real loopback sockets: 500 connections in 5 rooms, 10
// publishers per room at 20 msgs/s (100 members per room → 100k
// deliveries/s offered) for 3 s per iteration. It reports deliveries/s and
// latency percentiles; an iteration with loss fails the benchmark.
func BenchmarkGorillaFanout(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen on 127.0.0.1:0: %v", err)
	}
	hub := gorillahub.New(gorillahub.Options{})
	srv := &http.Server{Handler: hub, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); _ = hub.Close() }()

	runFanout(b, ln.Addr().String(), "bench", fanoutShape{500, 5, 10, 20})
}
