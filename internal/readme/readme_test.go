package readme_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// root is the repository root, seen from this package's directory.
var root = filepath.Join("..", "..")

// command is one command line of the README.
type command struct {
	argv  []string
	line  int // README line number
	block int // index of its code block; -1 for inline code
}

func (c command) String() string {
	return fmt.Sprintf("README.md:%d: %s", c.line, strings.Join(c.argv, " "))
}

// inlineCommand matches inline code that is a command a reader would paste.
var inlineCommand = regexp.MustCompile("`((?:go run|go test|loadgen|\\./server|bash) [^`]+)`")

// readCommands returns the README's shell-block commands (block >= 0) and
// its inline commands (block -1).
func readCommands(t *testing.T) []command {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []command
	sc := bufio.NewScanner(f)
	block, inSh, inOther := -1, false, false
	cont, contLine := "", 0 // a shell line continued with a trailing backslash
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if inSh && strings.HasSuffix(line, "\\") {
			if cont == "" {
				contLine = n
			}
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		start := n
		if cont != "" {
			line, start, cont = cont+line, contLine, ""
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			switch {
			case inSh || inOther:
				inSh, inOther = false, false
			case trimmed == "```sh" || trimmed == "```bash":
				inSh = true
				block++
			default:
				inOther = true
			}
			continue
		case inOther:
			continue
		case inSh:
			if argv := split(t, line); len(argv) > 0 {
				cmds = append(cmds, command{argv: argv, line: start, block: block})
			}
			continue
		}
		for _, m := range inlineCommand.FindAllStringSubmatch(line, -1) {
			cmds = append(cmds, command{argv: split(t, m[1]), line: n, block: -1})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cmds
}

// split cuts a shell line into words, honouring quotes and dropping a
// trailing # comment.
func split(t *testing.T, line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '#' && !inWord:
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Errorf("README line %q: unbalanced quote", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// binaries builds each ./cmd/NAME once, into a temporary directory.
type binaries struct {
	dir  string
	mu   sync.Mutex
	done map[string]error
}

func (b *binaries) get(t *testing.T, name string) string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := filepath.Join(b.dir, name)
	err, ok := b.done[name]
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/"+name)
		cmd.Dir = root
		if msg, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("go build ./cmd/%s: %v\n%s", name, berr, msg)
		}
		b.done[name] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runHelp runs bin with args and -h appended: every flag and argument is
// parsed, nothing starts. It must exit 0.
func runHelp(t *testing.T, c command, bin string, args []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string(nil), args...), "-h")...)
	cmd.Dir = root
	// The README's commands read ICS_* from the reader's shell; start from
	// none so a variable set for this test run cannot change the result.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ICS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%v: with -h appended it fails (%v):\n%s", c, err, out)
	}
}

// exists reports whether the repository has path (a glob is allowed).
func exists(path string) bool {
	m, _ := filepath.Glob(filepath.Join(root, path))
	return len(m) > 0
}

// packageDir is the directory of a ./… package pattern.
func packageDir(p string) string {
	return strings.TrimSuffix(strings.TrimSuffix(p, "..."), "/")
}

// TestREADMECommandsRunAsWritten: every command the README shows runs on a
// fresh clone as written.
func TestREADMECommandsRunAsWritten(t *testing.T) {
	cmds := readCommands(t)
	if len(cmds) < 10 {
		t.Fatalf("found only %d commands in README.md", len(cmds))
	}
	bins := &binaries{dir: t.TempDir(), done: map[string]error{}}
	readme, _ := os.ReadFile(filepath.Join(root, "README.md"))
	built := map[int]bool{} // code blocks that build ./server first
	for _, c := range cmds {
		t.Run(fmt.Sprintf("line %d", c.line), func(t *testing.T) {
			check(t, c, bins, built, string(readme))
		})
	}
}

// envAssign is a leading VAR=value of a shell command line.
var envAssign = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)

// hostTools are programs (and shell builtins) of the reader's host that the README uses as they
// are (coreutils), or that the section using them says to install (Docker,
// kubectl for Deploy).
var hostTools = map[string]bool{"head": true, "chmod": true, "export": true, "docker": true, "kubectl": true}

func check(t *testing.T, c command, bins *binaries, built map[int]bool, readme string) {
	argv := c.argv
	for len(argv) > 1 && envAssign.MatchString(argv[0]) {
		argv = argv[1:]
	}
	switch prog := argv[0]; {
	case hostTools[prog]:
		// Not ours to run here; the image and manifests are checked by ./deploy.
	case prog == "go" && len(argv) > 2 && argv[1] == "run":
		name, ok := strings.CutPrefix(argv[2], "./cmd/")
		if !ok || !exists(argv[2]) {
			t.Fatalf("%v: go run of %q: not a ./cmd/ program of this repository", c, argv[2])
		}
		runHelp(t, c, bins.get(t, name), argv[3:])
	case prog == "go" && len(argv) > 1 && (argv[1] == "test" || argv[1] == "build" || argv[1] == "vet" || argv[1] == "generate"):
		for i := 2; i < len(argv); i++ {
			a := argv[i]
			if strings.HasPrefix(a, "./") && !exists(packageDir(a)) {
				t.Errorf("%v: no package %s", c, a)
			}
			if a == "-o" && i+2 < len(argv) && argv[i+1] == "server" && argv[i+2] == "./cmd/server" {
				built[c.block] = true
			}
			if a == "-run" && i+1 < len(argv) && plainName.MatchString(argv[i+1]) {
				checkTestExists(t, c, argv[2:], argv[i+1])
			}
		}
	case prog == "go" && len(argv) > 2 && argv[1] == "install":
		if !strings.Contains(argv[2], "@") {
			t.Errorf("%v: go install needs a version (@latest or @vX)", c)
		}
	case prog == "./server":
		if c.block < 0 || !built[c.block] {
			t.Fatalf("%v: ./server is run without `go build -o server ./cmd/server` before it in the same block", c)
		}
		runHelp(t, c, bins.get(t, "server"), argv[1:])
	case prog == "bash":
		if len(argv) < 2 || !exists(argv[1]) {
			t.Errorf("%v: no script %v", c, argv[1:])
		}
	case prog == "grpcurl":
		if !strings.Contains(readme, "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@") {
			t.Errorf("%v: grpcurl is used but the README does not say how to install it", c)
		}
	case prog == "apt-get":
		// A system package (Debian); nothing to check here.
	case prog == "ulimit":
		if len(argv) != 3 || argv[1] != "-n" {
			t.Errorf("%v: want ulimit -n N", c)
		} else if _, err := strconv.Atoi(argv[2]); err != nil {
			t.Errorf("%v: %v", c, err)
		}
	case strings.Contains(prog, "/"):
		if !exists(prog) {
			t.Errorf("%v: no script %s in the repository", c, prog)
		}
	default:
		t.Errorf("%v: %q is not a program a fresh clone has (write go run ./cmd/%s …, or build it first)", c, prog, prog)
	}
}

// plainName is a -run pattern that names one test function.
var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkTestExists fails unless a package of pkgs has a test function named
// by the -run pattern (a plain name).
func checkTestExists(t *testing.T, c command, args []string, name string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(`)
	for _, a := range args {
		if !strings.HasPrefix(a, "./") {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(root, packageDir(a), "*_test.go"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && re.Match(b) {
				return
			}
		}
	}
	t.Errorf("%v: -run %s matches no test function", c, name)
}

// TestREADMEQuickStart: the quick start is exactly two commands, one that
// runs the server and one that runs the tests.
func TestREADMEQuickStart(t *testing.T) {
	var first []command
	for _, c := range readCommands(t) {
		if c.block == 0 {
			first = append(first, c)
		}
	}
	if len(first) != 2 {
		t.Fatalf("the first code block has %d commands, want 2 (run the server, run the tests): %v", len(first), first)
	}
	if a := first[0].argv; len(a) < 3 || a[0] != "go" || a[1] != "run" || a[2] != "./cmd/server" {
		t.Errorf("first command %v: want go run ./cmd/server …", first[0])
	}
	if a := first[1].argv; len(a) < 2 || a[0] != "go" || a[1] != "test" {
		t.Errorf("second command %v: want go test …", first[1])
	}
}

// TestSplit: the README's quoting is understood.
func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`go run ./cmd/server   # comment`, []string{"go", "run", "./cmd/server"}},
		{`grpcurl -d '{"body": "a # b"}' x`, []string{"grpcurl", "-d", `{"body": "a # b"}`, "x"}},
		{`./server admin broadcast -room lobby "hello lobby"`, []string{"./server", "admin", "broadcast", "-room", "lobby", "hello lobby"}},
		{`# only a comment`, nil},
	}
	for _, tc := range tests {
		if got := split(t, tc.in); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
