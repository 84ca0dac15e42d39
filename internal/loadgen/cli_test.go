package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMainUsage(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		want  int
		first string // stderr's first line contains it ("" = not checked)
		lines int    // stderr has at most this many lines (0 = not checked)
	}{
		{"no command", nil, 2, "", 0},
		{"help", []string{"-h"}, 0, "", 0},
		{"unknown command", []string{"explode"}, 2, `unknown command "explode"`, 0},
		// The error first, then a one-line hint: not the whole flag list.
		{"bad flag", []string{"fanout", "-nope"}, 2, "flag provided but not defined: -nope", 2},
		{"bad value", []string{"connect", "-rate", "fast"}, 2, `invalid value "fast" for flag -rate`, 2},
		{"flag help", []string{"fanout", "-h"}, 0, "usage: loadgen fanout", 0},
		{"remote target", []string{"fanout", "-addr", "192.0.2.1:80"}, 2, "not a loopback address", 2},
		{"extra args", []string{"connect", "stray"}, 2, `unexpected arguments "stray"`, 2},
		{"bad numbers", []string{"fanout", "-conns", "4", "-rooms", "2", "-publishers", "3"}, 2, "exceeds -conns 4", 2},
		// Fails at once rather than holding for the 60 s asked.
		{"nothing listening", []string{"connect", "-addr", "127.0.0.1:1", "-conns", "1", "-duration", "60s"}, 1, "nothing accepts connections at 127.0.0.1:1", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			start := time.Now()
			if got := Main(tc.args, &out, &errb); got != tc.want {
				t.Fatalf("Main(%q) = %d, want %d; stderr: %s", tc.args, got, tc.want, errb.String())
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Fatalf("Main(%q) took %v", tc.args, took)
			}
			lines := strings.Split(strings.TrimRight(errb.String(), "\n"), "\n")
			if tc.first != "" && !strings.Contains(lines[0], tc.first) {
				t.Errorf("first stderr line %q, want it to contain %q", lines[0], tc.first)
			}
			if tc.lines > 0 && len(lines) > tc.lines {
				t.Errorf("stderr has %d lines, want at most %d:\n%s", len(lines), tc.lines, errb.String())
			}
		})
	}
}

func TestMainFanoutWritesReports(t *testing.T) {
	t.Parallel()
	addr := startHub(t)
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	var out, errb bytes.Buffer
	code := Main([]string{"fanout", "-addr", addr, "-conns", "10", "-publishers", "2", "-rate", "20",
		"-duration", "1500ms", "-warmup", "500ms", "-prefix", "clitest", "-json", jsonPath, "-html", htmlPath}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d; stdout %s stderr %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "result: PASS") {
		t.Fatalf("summary lacks PASS: %s", out.String())
	}
	js, err := os.ReadFile(jsonPath)
	if err != nil || !bytes.Contains(js, []byte(`"deliveries_per_s"`)) || !bytes.Contains(js, []byte(`"timeline"`)) {
		t.Fatalf("JSON report (%v): %s", err, js)
	}
	h, err := os.ReadFile(htmlPath)
	if err != nil || !bytes.Contains(h, []byte("<svg")) || bytes.Contains(h, []byte("<script src")) || bytes.Contains(h, []byte("<link")) {
		t.Fatalf("HTML report not self-contained with charts (%v)", err)
	}
	// The settings in human units, publishes/s on a chart of its own and
	// the warm-up marked.
	for _, want := range []string{"<th>connections</th><td>10</td>", "<td>1.5s (warm-up 500ms of it)</td>", "<td>20 messages/s per publisher</td>",
		`aria-label="publishes per second"`, ">warm-up</text>"} {
		if !bytes.Contains(h, []byte(want)) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	// Without a terminal the run prints progress lines.
	if !strings.Contains(errb.String(), "s] ") {
		t.Errorf("no progress line on stderr without a terminal: %q", errb.String())
	}
	// a threshold that cannot hold exits 1
	code = Main([]string{"fanout", "-addr", addr, "-conns", "4", "-rate", "20", "-duration", "1s", "-warmup", "200ms",
		"-prefix", "clitest2", "-min-rate", "1e9"}, &out, &errb)
	if code != 1 {
		t.Fatalf("-min-rate 1e9: exit %d, want 1", code)
	}
}

func TestConnectAndChurn(t *testing.T) {
	t.Parallel()
	addr := startHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := DefaultConfig()
	cfg.Addr, cfg.Prefix, cfg.Conns, cfg.Rate, cfg.Duration, cfg.Warmup = addr, "conn", 50, 500, 300*time.Millisecond, 0
	cfg.ServerPID = os.Getpid() // the hub runs in this process
	rep, err := RunConnect(ctx, cfg)
	if err != nil || !rep.OK() || rep.ConnsUp != 50 || rep.Handshake == nil || rep.Handshake.Count != 50 {
		t.Fatalf("RunConnect: err %v report %+v", err, rep)
	}
	if rep.Server == nil || rep.Server.Source != "proc" || rep.Server.RSSBytesAfter <= 0 {
		t.Fatalf("server stats from /proc missing: %+v", rep.Server)
	}
	if len(rep.Ramp) == 0 || rep.Ramp[len(rep.Ramp)-1].Up != 50 {
		t.Fatalf("ramp not recorded: %+v", rep.Ramp)
	}
	htmlPath := filepath.Join(t.TempDir(), "c.html")
	if err := rep.WriteHTML(htmlPath); err != nil {
		t.Fatal(err)
	}
	if h, _ := os.ReadFile(htmlPath); !bytes.Contains(h, []byte(`aria-label="ramp: connections up"`)) || !bytes.Contains(h, []byte(`aria-label="ramp: handshake latency`)) {
		t.Fatalf("connect report does not chart the ramp")
	}

	cfg = DefaultConfig()
	cfg.Addr, cfg.Prefix, cfg.Conns, cfg.Rooms, cfg.Publishers, cfg.Rate = addr, "churn", 12, 2, 1, 20
	cfg.Duration, cfg.Warmup, cfg.ChurnRate = 1500*time.Millisecond, 300*time.Millisecond, 20
	rep, err = RunChurn(ctx, cfg)
	if err != nil || !rep.OK() || rep.Churn == nil || rep.Churn.Cycles == 0 {
		t.Fatalf("RunChurn: err %v failures %v churn %+v", err, rep.Failures, rep.Churn)
	}
}

func TestCompatSeed(t *testing.T) {
	t.Parallel()
	// the gorilla baseline also accepts the seed dialect: form nickname, raw token subprotocol
	addr := startHub(t)
	cfg := DefaultConfig()
	cfg.Addr, cfg.Prefix, cfg.Compat = addr, "seed", CompatSeed
	cfg.Conns, cfg.Publishers, cfg.Rate, cfg.Duration, cfg.Warmup = 6, 2, 20, time.Second, 200*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := RunFanout(ctx, cfg)
	if err != nil || !rep.OK() || rep.Delivered == 0 {
		t.Fatalf("seed fanout: err %v failures %v delivered %d", err, rep.Failures, rep.Delivered)
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		in         string
		user, sys  int64
		wantErrStr string
	}{
		{"1234 (server) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 1000 0 0", 250, 75, ""},
		{"1234 (we ird) name) R 1 1 1 0 -1 0 0 0 0 0 7 9 0 0", 7, 9, ""},
		{"garbage", 0, 0, "malformed"},
		{"1 (x) S 1 2", 0, 0, "short"},
	}
	for _, tc := range tests {
		u, s, err := parseProcStat(tc.in)
		if tc.wantErrStr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrStr) {
				t.Errorf("parseProcStat(%q) err %v, want %q", tc.in, err, tc.wantErrStr)
			}
			continue
		}
		if err != nil || u != tc.user || s != tc.sys {
			t.Errorf("parseProcStat(%q) = %d %d %v, want %d %d", tc.in, u, s, err, tc.user, tc.sys)
		}
	}
}

func TestMetricsSample(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# HELP x\nprocess_cpu_seconds_total 12.5\nprocess_resident_memory_bytes 1.048576e+07\nother 1\n")
	}))
	defer srv.Close()
	s, ok := sampleServer(context.Background(), 0, strings.TrimPrefix(srv.URL, "http://"))
	if !ok || s.CPUSec != 12.5 || s.RSSBytes != 10485760 || s.Source != "metrics" {
		t.Fatalf("sample = %+v ok=%v", s, ok)
	}
	if _, ok := sampleServer(context.Background(), 0, "127.0.0.1:1"); ok {
		t.Fatalf("sample from a closed port succeeded")
	}
}

// TestRSSBelowNoise: an RSS change too small to mean anything per
// connection is reported as such, not as a (possibly negative) figure.
func TestRSSBelowNoise(t *testing.T) {
	tests := []struct {
		name      string
		delta     int64
		wantNoise bool
		wantText  string
	}{
		{"tiny growth", 100 << 10, true, "below the measurement noise"},
		{"shrink", -(500 << 10), true, "below the measurement noise"},
		{"real growth", 30 << 20, false, "KiB per connection"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := ServerSample{Source: "proc", RSSBytes: 100 << 20, at: time.Now()}
			b := ServerSample{Source: "proc", RSSBytes: a.RSSBytes + tc.delta, at: a.at.Add(time.Second)}
			st := serverStats(1, a, b, 1000)
			if st.RSSBelowNoise != tc.wantNoise || (tc.wantNoise && st.RSSPerConnBytes != 0) {
				t.Fatalf("stats %+v", st)
			}
			var sum bytes.Buffer
			(&Report{Mode: "connect", Server: st}).WriteSummary(&sum)
			if !strings.Contains(sum.String(), tc.wantText) {
				t.Fatalf("summary lacks %q:\n%s", tc.wantText, sum.String())
			}
		})
	}
}
