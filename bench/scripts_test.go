package bench

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ics-chat/ics/internal/config"
)

// TestScriptsPassAcceptedKeys: every bench script starts the server with a
// token key the server accepts (at least config.MinJWTKeyBytes): a short one
// makes the server exit at once and the script measure nothing. The scripts
// are not run by go test, so this is what keeps them runnable.
func TestScriptsPassAcceptedKeys(t *testing.T) {
	key := regexp.MustCompile(`-jwt-key[ =]([^ "'$]+)`)
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sh") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range key.FindAllSubmatch(b, -1) {
			n++
			if k := string(m[1]); len(k) < config.MinJWTKeyBytes && k != "…" {
				t.Errorf("%s: -jwt-key %q is %d bytes; the server refuses keys under %d", path, k, len(k), config.MinJWTKeyBytes)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no -jwt-key found in any bench script: the pattern is stale")
	}
}
