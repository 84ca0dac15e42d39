package metric_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ics-chat/ics/internal/metric"
)

// The README's Metrics section names every declared metric and nothing
// else, so operators read the same list /metrics serves.
func TestREADMEListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Metrics\n")
	if !ok {
		t.Fatal("README.md has no ## Metrics section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`(ics_[a-z_]+)").FindAllStringSubmatch(sec, -1) {
		named[m[1]] = true
	}
	var declared []string
	for _, d := range metric.Table() {
		declared = append(declared, d.Name)
		if !named[d.Name] {
			t.Errorf("README's Metrics section does not list %s", d.Name)
		}
	}
	for n := range named {
		if !slices.Contains(declared, n) {
			t.Errorf("README's Metrics section lists %s, which internal/metric does not declare", n)
		}
	}
}
