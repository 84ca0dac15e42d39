package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ics-chat/ics/internal/admin/cli"
)

const usageText = `usage: loadgen <command> [flags]

commands:
  fanout   C connections in R rooms, P publishers per room publishing open-loop
  sweep    step the offered load up until p99 > -max-p99 or loss; report the best rate
  connect  ramp C connections at -rate/s (auth + upgrade), hold them idle, report memory
  churn    reconnect storm (-churn-rate/s) while a fanout runs
  abuse    misbehaving clients (slow reader, oversized frame, bad JSON, flood,
           no pong, slowloris) next to well-behaved ones

Run "loadgen <command> -h" for the flags of a command.
Exit status: 0 all invariants held, 1 an invariant failed, 2 bad usage.
`

// Main runs the command line and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprint(stderr, usageText)
		if len(args) < 1 {
			return 2
		}
		return 0
	}
	mode := args[0]
	run, ok := runners[mode]
	if !ok {
		fmt.Fprintf(stderr, "loadgen: unknown command %q\n\n%s", mode, usageText)
		return 2
	}
	cfg := DefaultConfig()
	if mode == "connect" {
		cfg.Rate = 1000
		cfg.Duration = 10 * time.Second
		cfg.Warmup = 0
	}
	if err := cfg.parseArgs(mode, args[1:], stderr); err != nil {
		if errors.Is(err, ErrUsage) && !errors.Is(err, errHelp) {
			fmt.Fprintf(stderr, "loadgen %s: %v\n", mode, strings.TrimPrefix(err.Error(), ErrUsage.Error()+": "))
			fmt.Fprintf(stderr, "run 'loadgen %s -h' for its flags\n", mode)
		}
		if errors.Is(err, errHelp) {
			return 0
		}
		return 2
	}
	if _, err := RaiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
	}
	var bar *progressbar.ProgressBar
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(f), progressbar.OptionSpinnerType(14),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionClearOnFinish())
		cfg.Status = func(line string) { bar.Describe(line); _ = bar.Add(0) }
	} else {
		// No terminal (CI, a pipe, nohup): a plain progress line now and
		// then, so a long run is visibly alive.
		cfg.Status = progressLines(stderr, progressEvery)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stdout)
	}
	if err != nil && rep == nil {
		fmt.Fprintf(stderr, "loadgen %s: %v\n", mode, err)
		if errors.Is(err, ErrUsage) {
			return 2
		}
		return 1
	}
	rep.WriteSummary(stdout)
	if cfg.AdminAddr != "" {
		// The server's own view of the run: per-shard counters and
		// frames per write, from its gRPC admin API.
		fmt.Fprintf(stdout, "\nserver stats from the admin API at %s:\n", cfg.AdminAddr)
		args := []string{"stats", "-addr", cfg.AdminAddr}
		if cfg.AdminToken != "" {
			args = append(args, "-token", cfg.AdminToken)
		}
		if cli.Run(args, os.LookupEnv, stdout, stderr) != 0 {
			fmt.Fprintf(stderr, "loadgen: could not read stats from the admin API at %s\n", cfg.AdminAddr)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen %s: %v\n", mode, err)
	}
	if cfg.JSONFile != "" {
		if werr := rep.WriteJSON(cfg.JSONFile); werr != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", werr)
			return 1
		}
	}
	if cfg.HTMLFile != "" {
		if werr := rep.WriteHTML(cfg.HTMLFile); werr != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", werr)
			return 1
		}
	}
	if err != nil || !rep.OK() {
		return 1
	}
	return 0
}

var runners = map[string]func(context.Context, Config) (*Report, error){
	"fanout":  RunFanout,
	"sweep":   RunSweep,
	"connect": RunConnect,
	"churn":   RunChurn,
	"abuse":   RunAbuse,
}
