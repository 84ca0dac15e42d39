package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/admin/cli"
	"github.com/ics-chat/ics/internal/wstest"
)

// docker runs the Docker CLI bin with args and returns its combined output.
func docker(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// noDocker skips the test, or fails it where ICS_REQUIRE_DOCKER=1 says a
// daemon is there (.ci/run sets it once dockerd answers).
func noDocker(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("ICS_REQUIRE_DOCKER") == "1" {
		t.Fatalf("ICS_REQUIRE_DOCKER=1 but %s", msg)
	}
	t.Skipf("no usable Docker here, image not tested: %s", msg)
}

// dockerCLIs are the Docker clients that reach a daemon: $ICS_DOCKER, the
// one on PATH, Debian's /usr/bin/docker (whose built-in BuildKit the host
// path of the Dockerfile needs when no buildx plugin is installed).
func dockerCLIs(ctx context.Context, t *testing.T) []string {
	// Read here so that go test's cache keys on them: the daemon is an
	// input this process cannot otherwise see.
	host := os.Getenv("DOCKER_HOST")
	_ = os.Getenv("DOCKER_CONTEXT")
	if sock, ok := strings.CutPrefix(host, "unix://"); ok || host == "" {
		if host == "" {
			sock = "/var/run/docker.sock"
		}
		_, _ = os.Stat(sock)
	}
	var cands, ok []string
	if v := os.Getenv("ICS_DOCKER"); v != "" {
		cands = append(cands, v)
	}
	if p, err := exec.LookPath("docker"); err == nil {
		cands = append(cands, p)
	}
	cands = append(cands, "/usr/bin/docker")
	var why []string
	seen := map[string]bool{}
	for _, c := range cands {
		if seen[c] {
			continue
		}
		seen[c] = true
		out, err := docker(ctx, c, "version", "--format", "{{.Server.Version}}")
		if err != nil {
			why = append(why, fmt.Sprintf("%s version: %v: %s", c, err, out))
			continue
		}
		ok = append(ok, c)
	}
	if len(ok) == 0 {
		noDocker(t, "no Docker daemon answers (%s)", strings.Join(why, "; "))
	}
	return ok
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestImage builds the image from a binary built here (no registry needed)
// and runs it as the README says: it answers /healthz and its own
// HEALTHCHECK, logs a WebSocket client in, runs as non-root with the key
// from a mounted file, and `docker stop` drains the client with 1012.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs a container")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	clis := dockerCLIs(ctx, t)

	dir := t.TempDir()
	const version = "docker-test-1"
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-X github.com/ics-chat/ics/internal/server.Version="+version,
		"-o", filepath.Join(dir, "bin", "server"), "../cmd/server")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dockerfile, err := filepath.Abs("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	image := fmt.Sprintf("ics-test:%d-%d", os.Getpid(), time.Now().UnixNano())
	var cliBin string
	var buildErrs []string
	for _, c := range clis {
		out, err := docker(ctx, c, "build", "-f", dockerfile, "--build-arg", "BINARY_FROM=host",
			"--build-arg", "VERSION="+version, "-t", image, dir)
		if err == nil {
			cliBin = c
			break
		}
		if strings.Contains(out, "buildx") || strings.Contains(out, "BuildKit") {
			// This client has no BuildKit: the legacy builder would pull
			// the Go image for the unused stage.
			buildErrs = append(buildErrs, fmt.Sprintf("%s: %s", c, lastLine(out)))
			continue
		}
		t.Fatalf("%s build: %v\n%s", c, err, out)
	}
	if cliBin == "" {
		noDocker(t, "no client with BuildKit (%s)", strings.Join(buildErrs, "; "))
	}
	t.Logf("built %s with %s (skipped, no BuildKit: %v)", image, cliBin, buildErrs)
	t.Cleanup(func() { _, _ = docker(context.Background(), cliBin, "rmi", "-f", image) })

	key := filepath.Join(dir, "jwt.key")
	tok := filepath.Join(dir, "admin.token")
	// World-readable: the container's uid 65532 reads the bind mount.
	for f, v := range map[string]string{key: "docker-test-key-0123456789abcdef\n", tok: "docker-admin-token\n"} {
		if err := os.WriteFile(f, []byte(v), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	httpAddr, adminAddr := freeAddr(t), freeAddr(t)
	name := strings.NewReplacer(":", "-", ".", "-").Replace(image)
	out, err := docker(ctx, cliBin, "run", "-d", "--name", name, "--network", "host",
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--health-interval", "1s", "--health-start-period", "1s",
		"-e", "ICS_HTTP="+httpAddr, "-e", "ICS_ADMIN="+adminAddr,
		"-e", "ICS_JWT_KEY_FILE=/run/secrets/jwt_key", "-e", "ICS_ADMIN_TOKEN_FILE=/run/secrets/admin_token",
		"-v", key+":/run/secrets/jwt_key:ro", "-v", tok+":/run/secrets/admin_token:ro",
		image, "-drain-timeout", "5s")
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = docker(context.Background(), cliBin, "rm", "-f", name) })
	logs := func() string { l, _ := docker(context.Background(), cliBin, "logs", name); return l }

	waitFor(t, 30*time.Second, "GET /healthz 200", func() bool {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, logs)
	// The image's own HEALTHCHECK (server healthcheck) must pass too.
	waitFor(t, 30*time.Second, "HEALTHCHECK healthy", func() bool {
		s, _ := docker(ctx, cliBin, "inspect", "-f", "{{.State.Health.Status}}", name)
		return s == "healthy"
	}, logs)

	t.Run("runs as non-root", func(t *testing.T) {
		pid, _ := docker(ctx, cliBin, "inspect", "-f", "{{.State.Pid}}", name)
		status, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Skipf("container process not visible from here: %v", err)
		}
		for _, l := range strings.Split(string(status), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" && f[1] != "65532" {
				t.Fatalf("container runs as uid %s, want 65532", f[1])
			}
		}
	})

	t.Run("version stamped", func(t *testing.T) {
		var out, errb bytes.Buffer
		noEnv := func(string) (string, bool) { return "", false }
		if code := cli.Run([]string{"stats", "-json", "-addr", adminAddr, "-token", "docker-admin-token"}, noEnv, &out, &errb); code != 0 {
			t.Fatalf("admin stats with the mounted token: exit %d: %s", code, errb.String())
		}
		if !strings.Contains(out.String(), version) {
			t.Fatalf("stats do not report version %s: %s", version, out.String())
		}
	})

	// A WebSocket login with a token signed by the mounted key.
	c := wstest.Dial(t, httpAddr, "docker-user")

	stopped := make(chan string, 1)
	go func() {
		out, err := docker(context.Background(), cliBin, "stop", "-t", "20", name)
		stopped <- fmt.Sprintf("%s %v", out, err)
	}()
	if code, reason := c.ExpectClose(t, 15*time.Second); code != 1012 {
		t.Errorf("docker stop closed the client with %d %q, want 1012", code, reason)
	}
	select {
	case s := <-stopped:
		t.Logf("docker stop: %s", s)
	case <-time.After(30 * time.Second):
		t.Fatal("docker stop did not return")
	}
	exit, _ := docker(ctx, cliBin, "inspect", "-f", "{{.State.ExitCode}}", name)
	if exit != "0" {
		t.Fatalf("container exited %s after docker stop, want 0 (drained); logs:\n%s", exit, logs())
	}
	if l := logs(); !strings.Contains(l, "stopped") {
		t.Errorf("log lacks the drain's end:\n%s", l)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s; container log:\n%s", what, d, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
