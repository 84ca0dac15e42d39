package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

// metricsTable prints GetStatsResponse.metrics, everything /metrics has:
// one row per name (and labels other than the first), with the values of
// its first label (shard, loop) side by side, so a node with many shards
// or loops still gets one line per metric.
func metricsTable(tw *tabwriter.Writer, ms []*adminv1.Metric) {
	type row struct {
		name, by, first, last string // by: the first label's name; first..last its values
		vals                  []string
	}
	var rows []*row
	at := map[string]*row{}
	for _, m := range ms {
		ls := m.GetLabels()
		key, by, val := m.GetName(), "", ""
		if len(ls) > 0 {
			by, val = ls[0].GetName(), ls[0].GetValue()
			key += labelStr(ls[1:])
		}
		r := at[key]
		if r == nil {
			r = &row{name: key, by: by, first: val}
			at[key] = r
			rows = append(rows, r)
		}
		r.last = val
		r.vals = append(r.vals, strconv.FormatFloat(m.GetValue(), 'f', -1, 64))
	}
	fmt.Fprintln(tw, "METRIC\tBY\tVALUES")
	for _, r := range rows {
		by := ""
		switch {
		case r.by == "":
		case r.first == r.last:
			by = r.by + "=" + r.first
		default:
			by = r.by + "=" + r.first + ".." + r.last
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.name, by, strings.Join(r.vals, " "))
	}
}

// labelStr is {a="1",b="2"} ("" without labels), as /metrics prints them.
func labelStr(ls []*adminv1.Label) string {
	if len(ls) == 0 {
		return ""
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.GetName() + "=" + strconv.Quote(l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}
