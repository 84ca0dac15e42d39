package loadgen_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/admin"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/loadgen"
	"github.com/ics-chat/ics/internal/server"
	"github.com/ics-chat/ics/internal/servertest"
)

// startICS runs the real ICS server in-process on a loopback port.
func startICS(t *testing.T, tweak func(*config.Config)) string {
	t.Helper()
	return servertest.Start(t, tweak).Addr().String()
}

// TestScenariosAgainstICS is the short smoke run of every scenario against
// our own server: each must pass its invariants (no loss, no dup, order,
// the contract's answer to each abuse). It asserts no latency or rate bound:
// under -race on a shared 2-core machine those flake; they belong to the
// bench scripts and real loadgen runs.
func TestScenariosAgainstICS(t *testing.T) {
	tests := []scenarioCase{
		{"fanout", nil, loadgen.RunFanout, func(c *loadgen.Config) {
			c.Conns, c.Rooms, c.Publishers, c.Rate = 100, 4, 5, 10
		}},
		{"fanout compat seed", nil, loadgen.RunFanout, func(c *loadgen.Config) {
			c.Conns, c.Rooms, c.Publishers, c.Rate, c.Compat = 40, 2, 2, 5, loadgen.CompatSeed
		}},
		{"sweep", nil, loadgen.RunSweep, func(c *loadgen.Config) {
			c.Conns, c.Rooms, c.Publishers, c.Rate, c.Step, c.MaxSteps = 60, 3, 2, 5, 2, 2
			c.Duration = 1500 * time.Millisecond
		}},
		{"connect", nil, loadgen.RunConnect, func(c *loadgen.Config) {
			c.Conns, c.Rate = 300, 500
		}},
		{"connect storm into rooms", nil, loadgen.RunConnect, func(c *loadgen.Config) {
			c.Conns, c.Rooms, c.Rate = 60, 3, 300
		}},
		{"churn", nil, loadgen.RunChurn, func(c *loadgen.Config) {
			c.Conns, c.Rooms, c.Publishers, c.Rate, c.ChurnRate = 100, 2, 3, 10, 20
		}},
		{"abuse", func(c *config.Config) { c.HandshakeTimeout = time.Second }, loadgen.RunAbuse, func(c *loadgen.Config) {
			c.Conns, c.Rate = 20, 10
			c.Scenarios = "oversized_frame,malformed_json,command_flood,slowloris"
		}},
	}
	runScenarios(t, tests)
}

// TestAttackScenariosAgainstICS runs the attack scenarios of issue 9 (apart
// from the other scenarios: they load the server on purpose).
func TestAttackScenariosAgainstICS(t *testing.T) {
	tests := []scenarioCase{
		{"fd exhaustion", func(c *config.Config) {
			c.MaxSockets = 300 // fd_exhaustion opens more than this
		}, loadgen.RunAbuse, func(c *loadgen.Config) {
			c.Conns, c.Rate, c.AbuseSockets = 20, 10, 400
			c.Scenarios = "fd_exhaustion"
			c.Duration = 6 * time.Second
		}},
		{"attacks", func(c *config.Config) { c.FrameTimeout = time.Second }, loadgen.RunAbuse, func(c *loadgen.Config) {
			c.Conns, c.Rate = 20, 10
			c.Scenarios = "pipelined_flood,claim_flood,ping_flood,trickled_frame"
			c.Duration = 6 * time.Second
		}},
	}
	runScenarios(t, tests)
}

type scenarioCase struct {
	name  string
	tweak func(*config.Config)
	run   func(context.Context, loadgen.Config) (*loadgen.Report, error)
	cfg   func(*loadgen.Config)
}

// runScenarios runs each case in parallel against a server of its own with
// the server's per-address defaults.
func runScenarios(t *testing.T, tests []scenarioCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lc := loadgen.DefaultConfig()
			lc.Addr = startICS(t, func(c *config.Config) {
				// The server's own per-address defaults: the generator
				// spreads its clients over 127.0.0.0/8 to stay under them.
				d := config.Default()
				c.AuthRate, c.AuthBurst = d.AuthRate, d.AuthBurst
				c.MaxClaimsPerIP, c.MaxConnsPerIP = d.MaxClaimsPerIP, d.MaxConnsPerIP
				if tt.tweak != nil {
					tt.tweak(c)
				}
			})
			lc.Prefix = "smoke" + strings.ReplaceAll(tt.name, " ", "")
			lc.Size = 100
			lc.Duration, lc.Warmup, lc.Drain, lc.Settle = 2*time.Second, 500*time.Millisecond, 3*time.Second, 10*time.Second
			tt.cfg(&lc)
			// The sweep stops at its p99 bound (DefaultSweepMaxP99 when
			// unset): lift it so only the invariants can fail here.
			lc.MaxP99, lc.MinRate = time.Hour, 0
			rep, err := tt.run(context.Background(), lc)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("%s failed against ICS: %v", tt.name, rep.Failures)
			}
			if tt.name == "churn" && (rep.Churn.RecoveryChecks == 0 || rep.Churn.NoHistory != 0) {
				t.Fatalf("churn checked no recovery against ICS: %+v", rep.Churn)
			}
			if tt.name == "connect storm into rooms" && (rep.RoomsJoined != lc.Conns || len(rep.ErrorCodes) > 0) {
				t.Fatalf("%d of %d connections joined their room (errors %v)", rep.RoomsJoined, lc.Conns, rep.ErrorCodes)
			}
			if tt.name == "fanout" && (rep.Delivered == 0 || rep.Delivered != rep.Expected) {
				t.Fatalf("delivered %d of %d", rep.Delivered, rep.Expected)
			}
		})
	}
}

// startAdmin serves srv's gRPC admin API (token "tok") on a loopback port
// until the test ends.
func startAdmin(t *testing.T, srv *server.Server) *admin.Server {
	t.Helper()
	adm, err := admin.New(srv, admin.Config{Addr: "127.0.0.1:0", Token: "tok", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = adm.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = adm.Stop(ctx)
	})
	return adm
}

// TestMainPrintsAdminStats: with -admin the command line ends with the
// server's own per-shard counters, read from its gRPC admin API.
func TestMainPrintsAdminStats(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.Shards = 3 })
	adm := startAdmin(t, srv)
	var out, errb strings.Builder
	code := loadgen.Main([]string{"fanout", "-addr", srv.Addr().String(), "-conns", "20", "-rooms", "2",
		"-publishers", "2", "-rate", "5", "-duration", "1s", "-warmup", "200ms", "-drain", "1s", "-prefix", "adm",
		"-admin", adm.Addr().String(), "-admin-token", "tok"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	s := out.String()
	i := strings.Index(s, "server stats from the admin API")
	if i < 0 {
		t.Fatalf("no admin stats section:\n%s", s)
	}
	// One row per shard after the summary.
	for _, shard := range []string{"0", "1", "2"} {
		found := false
		for _, line := range strings.Split(s[i:], "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == shard {
				found = true
			}
		}
		if !found {
			t.Fatalf("no row for shard %s in:\n%s", shard, s[i:])
		}
	}
}

// TestConnectReports429: when the server's /auth limit refuses connections,
// the report says so in those words.
func TestConnectReports429(t *testing.T) {
	lc := loadgen.DefaultConfig()
	lc.Addr = startICS(t, func(c *config.Config) { c.AuthRate, c.AuthBurst = 1, 5 })
	lc.Prefix, lc.Conns, lc.Rate, lc.Duration, lc.Warmup = "lim", 20, 200, 200*time.Millisecond, 0
	rep, err := loadgen.RunConnect(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AuthRefused429 == 0 || rep.AuthRefused429 > 15 {
		t.Fatalf("%d connections refused with 429, want 1..15 (burst 5 of 20)", rep.AuthRefused429)
	}
	var sum strings.Builder
	rep.WriteSummary(&sum)
	if !strings.Contains(sum.String(), "429 Too Many Requests") || !strings.Contains(sum.String(), "-auth-rate") {
		t.Fatalf("summary does not explain the 429s:\n%s", sum.String())
	}
}

// TestKickEvasionAgainstICS kicks through the real admin API: the kicked
// client's earlier token must not bring it back.
func TestKickEvasionAgainstICS(t *testing.T) {
	srv := servertest.Start(t, nil)
	adm := startAdmin(t, srv)
	lc := loadgen.DefaultConfig()
	lc.Addr, lc.Prefix, lc.Conns, lc.Rate, lc.Size = srv.Addr().String(), "kick", 10, 5, 100
	lc.Duration, lc.Warmup, lc.Drain = 2*time.Second, 300*time.Millisecond, 2*time.Second
	lc.AdminAddr, lc.AdminToken, lc.Scenarios = adm.Addr().String(), "tok", "kick_evasion"
	rep, err := loadgen.RunAbuse(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Abuse) != 1 || rep.Abuse[0].Detail == "" {
		t.Fatalf("kick_evasion: %v %+v", rep.Failures, rep.Abuse)
	}
	if strings.HasPrefix(rep.Abuse[0].Detail, "skipped") {
		t.Fatalf("kick_evasion did not run: %s", rep.Abuse[0].Detail)
	}
}
