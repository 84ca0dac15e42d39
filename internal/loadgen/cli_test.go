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
		name string
		args []string
		want int
	}{
		{"no command", nil, 2},
		{"help", []string{"-h"}, 0},
		{"unknown command", []string{"explode"}, 2},
		{"bad flag", []string{"fanout", "-nope"}, 2},
		{"flag help", []string{"fanout", "-h"}, 0},
		{"remote target", []string{"fanout", "-addr", "192.0.2.1:80"}, 2},
		{"extra args", []string{"connect", "stray"}, 2},
		{"bad numbers", []string{"fanout", "-conns", "4", "-rooms", "2", "-publishers", "3"}, 2},
		{"nothing listening", []string{"connect", "-addr", "127.0.0.1:1", "-conns", "1", "-duration", "100ms"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := Main(tc.args, &out, &errb); got != tc.want {
				t.Fatalf("Main(%q) = %d, want %d; stderr: %s", tc.args, got, tc.want, errb.String())
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
