package loadgen

import (
	"context"
	"errors"
	"flag"
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

// cliOutput is what the command line does with a run besides running it:
// where the reports go. It never reaches a run (Config holds settings
// only).
type cliOutput struct {
	jsonFile string // Report.WriteJSON goes here
	htmlFile string // Report.WriteHTML goes here
}

// runner runs one mode of the command line, reporting progress to p.
type runner func(ctx context.Context, cfg Config, p progress) (*Report, error)

var runners = map[string]runner{
	"fanout":  fanoutCmd,
	"sweep":   sweepCmd,
	"connect": connectCmd,
	"churn":   churnCmd,
	"abuse":   abuseCmd,
}

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
	cfg, out, err := parseArgs(mode, args[1:], stderr)
	if err != nil {
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
	status, finish := progressTo(stdout, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg, status)
	finish()
	if err != nil && rep == nil {
		fmt.Fprintf(stderr, "loadgen %s: %v\n", mode, err)
		if errors.Is(err, ErrUsage) {
			return 2
		}
		return 1
	}
	rep.WriteSummary(stdout)
	if cfg.AdminAddr != "" {
		printAdminStats(&cfg, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen %s: %v\n", mode, err)
	}
	if werr := out.write(rep); werr != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", werr)
		return 1
	}
	if err != nil || !rep.OK() {
		return 1
	}
	return 0
}

// parseArgs parses args for mode into the mode's default Config and the
// command line's own output flags. -h prints every flag to out; a bad flag
// is returned as the error alone (the caller prints it and a one-line
// hint, not the whole flag list).
func parseArgs(mode string, args []string, out io.Writer) (Config, cliOutput, error) {
	cfg := DefaultConfig()
	if mode == "connect" {
		cfg.Rate = 1000
		cfg.Duration = 10 * time.Second
		cfg.Warmup = 0
	}
	var o cliOutput
	fs := cfg.FlagSet(mode, io.Discard)
	fs.StringVar(&o.jsonFile, "json", "", "write the full report as JSON to this file")
	fs.StringVar(&o.htmlFile, "html", "", "write a self-contained HTML report with charts to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fmt.Fprintf(out, "usage: loadgen %s [flags]\n\n", mode)
			fs.PrintDefaults()
			return cfg, o, fmt.Errorf("%w: %w", ErrUsage, errHelp)
		}
		return cfg, o, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, o, usageErr("unexpected arguments %q", strings.Join(fs.Args(), " "))
	}
	// Read localhost as 127.0.0.1 once, here, so the report names what
	// was loaded (-url does the same as it is parsed).
	cfg.Addr = normalizeNode(cfg.Addr)
	return cfg, o, cfg.Validate(mode)
}

// progressTo shows a run's progress on a spinner when stdout is a
// terminal, else as a plain line now and then on stderr (CI, a pipe,
// nohup), so a long run is visibly alive. finish clears the spinner.
func progressTo(stdout, stderr io.Writer) (p progress, finish func()) {
	f, ok := stdout.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return progressLines(stderr, progressEvery), func() {}
	}
	bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(f), progressbar.OptionSpinnerType(14),
		progressbar.OptionSetElapsedTime(true), progressbar.OptionClearOnFinish())
	return func(line string) { bar.Describe(line); _ = bar.Add(0) }, func() {
		_ = bar.Finish()
		fmt.Fprintln(stdout)
	}
}

// printAdminStats prints the server's own view of the run: per-shard
// counters and frames per write, from its gRPC admin API.
func printAdminStats(cfg *Config, stdout, stderr io.Writer) {
	fmt.Fprintf(stdout, "\nserver stats from the admin API at %s:\n", cfg.AdminAddr)
	args := []string{"stats", "-addr", cfg.AdminAddr}
	if cfg.AdminToken != "" {
		args = append(args, "-token", cfg.AdminToken)
	}
	if cli.Run(args, os.LookupEnv, stdout, stderr) != 0 {
		fmt.Fprintf(stderr, "loadgen: could not read stats from the admin API at %s\n", cfg.AdminAddr)
	}
}

// write writes the reports the command line asked for.
func (o cliOutput) write(rep *Report) error {
	if o.jsonFile != "" {
		if err := rep.WriteJSON(o.jsonFile); err != nil {
			return err
		}
	}
	if o.htmlFile != "" {
		return rep.WriteHTML(o.htmlFile)
	}
	return nil
}
