package loadgen_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/loadgen"
)

// TestFanoutAgainstCentrifugo runs a short fanout against a real Centrifugo
// (insecure client mode, loopback) in its JSON protocol: every connection
// subscribes to its room's channel and every published message reaches every
// subscriber of the room once, in order. Skipped when no centrifugo binary
// is installed (go install github.com/centrifugal/centrifugo/v6@v6.9.1),
// unless ICS_REQUIRE_CENTRIFUGO=1.
func TestFanoutAgainstCentrifugo(t *testing.T) {
	bin, err := exec.LookPath("centrifugo")
	if err != nil {
		if os.Getenv("ICS_REQUIRE_CENTRIFUGO") == "1" {
			t.Fatal("centrifugo is not installed")
		}
		t.Skip("centrifugo is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `{"client":{"insecure":true},"http_server":{"address":"127.0.0.1","port":"%d"},"log":{"level":"error"}}`, port), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("centrifugo did not start listening")
		}
		time.Sleep(100 * time.Millisecond)
	}
	lc := loadgen.DefaultConfig()
	lc.Addr, lc.Compat, lc.Prefix = addr, loadgen.CompatCentrifugo, "cf"
	lc.Conns, lc.Rooms, lc.Publishers, lc.Rate, lc.Size = 20, 2, 2, 5, 100
	lc.Duration, lc.Warmup, lc.Drain, lc.Settle = 2*time.Second, 500*time.Millisecond, 3*time.Second, 5*time.Second
	lc.MaxP99, lc.MinRate = time.Hour, 0
	rep, err := loadgen.RunFanout(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Delivered == 0 || rep.Delivered != rep.Expected || rep.Dup != 0 || rep.Reordered != 0 {
		t.Fatalf("against Centrifugo: delivered %d of %d (dup %d, reordered %d), failures %v", rep.Delivered, rep.Expected, rep.Dup, rep.Reordered, rep.Failures)
	}
}
