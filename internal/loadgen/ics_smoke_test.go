package loadgen_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/loadgen"
	"github.com/ics-chat/ics/internal/servertest"
)

// startICS runs the real ICS server in-process on a loopback port.
func startICS(t *testing.T, tweak func(*config.Config)) string {
	t.Helper()
	return servertest.Start(t, tweak).Addr().String()
}

// TestScenariosAgainstICS is the short smoke run of every scenario against
// our own server: each must pass its invariants (no loss, no dup, order,
// the contract's answer to each abuse).
func TestScenariosAgainstICS(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*config.Config)
		run   func(context.Context, loadgen.Config) (*loadgen.Report, error)
		cfg   func(*loadgen.Config)
	}{
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
		{"churn", nil, loadgen.RunChurn, func(c *loadgen.Config) {
			c.Conns, c.Rooms, c.Publishers, c.Rate, c.ChurnRate = 100, 2, 3, 10, 20
		}},
		{"abuse", func(c *config.Config) { c.HandshakeTimeout = time.Second }, loadgen.RunAbuse, func(c *loadgen.Config) {
			c.Conns, c.Rate = 20, 10
			c.Scenarios = "oversized_frame,malformed_json,command_flood,slowloris"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lc := loadgen.DefaultConfig()
			lc.Addr = startICS(t, tt.tweak)
			lc.Prefix = "smoke" + strings.ReplaceAll(tt.name, " ", "")
			lc.Size = 100
			lc.Duration, lc.Warmup, lc.Drain, lc.Settle = 2*time.Second, 500*time.Millisecond, 3*time.Second, 10*time.Second
			tt.cfg(&lc)
			rep, err := tt.run(context.Background(), lc)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("%s failed against ICS: %v", tt.name, rep.Failures)
			}
			if tt.name == "fanout" && (rep.Delivered == 0 || rep.Delivered != rep.Expected) {
				t.Fatalf("delivered %d of %d", rep.Delivered, rep.Expected)
			}
		})
	}
}
