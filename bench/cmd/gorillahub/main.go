package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ics-chat/ics/bench/gorillahub"
)

func main() {
	fs := flag.NewFlagSet("gorillahub", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	queue := fs.Int("queue", 1024, "frames buffered per client before it is dropped")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hub := gorillahub.New(gorillahub.Options{SendQueue: *queue})
	srv := &http.Server{Addr: *addr, Handler: hub, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = hub.Close()
	}()
	fmt.Fprintf(os.Stderr, "gorillahub listening on %s (pid %d)\n", *addr, os.Getpid())
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("gorillahub: listen on %s: %v", *addr, err)
	}
}
