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
	"syscall"
	"time"

	"github.com/ics-chat/ics/internal/admin"
	"github.com/ics-chat/ics/internal/admin/cli"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "admin" {
		return cli.Run(args[1:], os.LookupEnv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(args[1:], os.LookupEnv, stdout, stderr)
	}
	cfg := config.Default()
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: server [flags]\n       server admin COMMAND [flags]   (admin API client; server admin -h)\n       server healthcheck [-url URL]  (GET /healthz, exit 0 if 200: for images without curl)\n\nRuns the ICS chat server. Every flag can also be set with ICS_<FLAG> (e.g. ICS_JWT_KEY).\n\n")
		fs.PrintDefaults()
	}
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "server: unexpected argument %q: settings are flags (-name value); see server -h\n", fs.Arg(0))
		return 2
	}
	if err := config.CheckEnv(fs, os.Environ()); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := config.ApplyEnv(fs, os.LookupEnv); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if _, err := config.ParseLogLevel(cfg.LogLevel); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := cfg.Resolve(); err != nil {
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
	// A Drain RPC ends the process like SIGTERM does (cancel).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	adm, admDone, err := startAdmin(ctx, srv, cfg, log, cancel)
	if err != nil {
		log.Error("admin API", "err", err)
		_ = srv.Shutdown(context.Background())
		return 2
	}
	fmt.Fprintf(stdout, "ICS chat server listening on %s\n  browser client: http://%s/\n  admin API (gRPC): %s\n",
		srv.Addr(), displayAddr(srv.Addr()), adminDisplay(adm))
	dead := false
	select {
	case <-ctx.Done():
	case <-srv.Died():
		// The chat port is gone (see wsio.Server.Died): exit non-zero so a
		// supervisor restarts the process instead of keeping a zombie.
		log.Error("network engine stopped; exiting")
		dead = true
	}
	stop()
	log.Info("shutting down: draining connections", "timeout", cfg.DrainTimeout)
	err = srv.Shutdown(context.Background())
	if adm != nil {
		actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = adm.Stop(actx)
		acancel()
		<-admDone
	}
	if err != nil {
		log.Warn("shutdown", "err", err)
		return 1
	}
	if dead {
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

// startAdmin serves the gRPC admin API when cfg.AdminAddr is set; onDrain
// is called after a Drain RPC has drained. done is closed when it stops.
func startAdmin(ctx context.Context, srv *server.Server, cfg config.Config, log *slog.Logger, onDrain func()) (*admin.Server, <-chan struct{}, error) {
	if cfg.AdminAddr == "" {
		return nil, nil, nil
	}
	acfg := admin.ConfigFrom(cfg)
	acfg.Logger, acfg.OnDrain = log, onDrain
	adm, err := admin.New(srv, acfg)
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Not ctx: health must keep answering NOT_SERVING while the server
		// drains; run stops the admin API after the drain.
		if err := adm.Serve(context.WithoutCancel(ctx)); err != nil {
			log.Error("admin API", "err", err)
		}
	}()
	return adm, done, nil
}

func adminDisplay(adm *admin.Server) string {
	if adm == nil {
		return "disabled"
	}
	return adm.Addr().String()
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	lvl, _ := config.ParseLogLevel(cfg.LogLevel) // checked in run
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
