package metric_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ics-chat/ics/internal/metric"
)

// The table's rows follow Prometheus conventions, and rows that share a
// name are one family: adjacent (the Collector describes each family
// once, from its first row), with one help, kind and label set, and told
// apart by their fixed labels.
func TestTableRowsFormFamilies(t *testing.T) {
	rows := metric.Table()
	seen := map[string]int{} // family name → index of its first row
	series := map[string]bool{}
	for i, d := range rows {
		t.Run(fmt.Sprintf("%d %s", i, d.Name), func(t *testing.T) {
			if !strings.HasPrefix(d.Name, "ics_") {
				t.Errorf("name lacks the ics_ prefix")
			}
			if d.Help == "" {
				t.Errorf("no help")
			}
			if got := strings.HasSuffix(d.Name, "_total"); got != (d.Kind == metric.Counter) {
				t.Errorf("%v named with _total %t: counters end in _total, gauges do not", d.Kind, got)
			}
			key := d.Name + fmt.Sprint(d.Fixed)
			if series[key] {
				t.Errorf("declared twice with fixed labels %v", d.Fixed)
			}
			series[key] = true
			first, ok := seen[d.Name]
			if !ok {
				seen[d.Name] = i
				return
			}
			if prev := rows[i-1]; prev.Name != d.Name {
				t.Errorf("not next to the other %s rows (row %d)", d.Name, first)
			}
			f := rows[first]
			if f.Help != d.Help || f.Kind != d.Kind || f.Per != d.Per || fmt.Sprint(f.LabelNames()) != fmt.Sprint(d.LabelNames()) {
				t.Errorf("differs from row %d of the same family in help, kind, scope or labels", first)
			}
		})
	}
}
