// Command server runs the ICS chat server: WebSocket chat, the browser
// client at /, health, metrics and the gRPC admin API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := config.Default()
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: server [flags]\n\nRuns the ICS chat server. Every flag can also be set with ICS_<FLAG> (e.g. ICS_JWT_KEY).\n\n")
		fs.PrintDefaults()
	}
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := config.ApplyEnv(fs, os.LookupEnv); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log := newLogger(cfg, stderr)
	if _, set := os.LookupEnv("GOGC"); !set {
		// The heap is mostly long-lived per-connection state and the hot
		// path allocates one frame per message, so halving the GC headroom
		// costs little CPU and keeps an idle connection under 2 KiB of RSS.
		debug.SetGCPercent(50)
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if cfg.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			log.Error("pprof", "err", err)
			return 1
		}
		defer stopPprof()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(ctx); err != nil {
		log.Error("start", "err", err)
		return 1
	}
	fmt.Fprintf(stdout, "ICS chat server listening on %s\n  browser client: http://%s/\n  admin API (gRPC): %s\n",
		srv.Addr(), displayAddr(srv.Addr()), adminDisplay(cfg.AdminAddr))
	<-ctx.Done()
	stop()
	log.Info("shutting down: draining connections", "timeout", cfg.DrainTimeout)
	if err := srv.Shutdown(context.Background()); err != nil {
		log.Warn("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if ta.IP == nil || ta.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", ta.Port)
	}
	return ta.String()
}

func adminDisplay(a string) string {
	if a == "" {
		return "disabled"
	}
	return a
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
