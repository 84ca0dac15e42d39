package admin_test

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/metric"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

// series is one sample's name and labels as /metrics prints them (labels
// sorted by name), e.g. ics_history_evictions_total{reason="age",shard="0"}.
type series string

type sample struct {
	kind  metric.Kind
	value float64
}

func seriesOf(name string, labels map[string]string) series {
	var b strings.Builder
	for i, n := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", n, labels[n])
	}
	return series(name + "{" + b.String() + "}")
}

// scrape reads the server's own samples (ics_*) from /metrics over HTTP.
func scrape(t *testing.T, addr string) map[series]sample {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[series]sample{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "ics_") {
			continue // Go and process collectors
		}
		for _, m := range f.GetMetric() {
			ls := map[string]string{}
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = l.GetValue()
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[seriesOf(name, ls)] = sample{metric.Counter, m.GetCounter().GetValue()}
			case dto.MetricType_GAUGE:
				out[seriesOf(name, ls)] = sample{metric.Gauge, m.GetGauge().GetValue()}
			default:
				t.Fatalf("%s: type %v", name, f.GetType())
			}
		}
	}
	return out
}

// adminSamples reads GetStatsResponse.metrics over gRPC.
func adminSamples(t *testing.T, e *env) map[series]sample {
	t.Helper()
	r, err := e.api.GetStats(e.ctx(t), &adminv1.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[adminv1.MetricKind]metric.Kind{
		adminv1.MetricKind_METRIC_KIND_COUNTER: metric.Counter,
		adminv1.MetricKind_METRIC_KIND_GAUGE:   metric.Gauge,
	}
	out := map[series]sample{}
	for _, m := range r.GetMetrics() {
		ls := map[string]string{}
		for _, l := range m.GetLabels() {
			ls[l.GetName()] = l.GetValue()
		}
		s := seriesOf(m.GetName(), ls)
		if _, dup := out[s]; dup {
			t.Errorf("admin lists %s twice", s)
		}
		out[s] = sample{kinds[m.GetKind()], m.GetValue()}
	}
	return out
}

// total sums a name's samples.
func total(ss map[series]sample, name string) float64 {
	var v float64
	for s, x := range ss {
		if strings.HasPrefix(string(s), name+"{") {
			v += x.value
		}
	}
	return v
}

// Every value declared in internal/metric is on /metrics (scraped over
// HTTP) and in the admin API's GetStats (over gRPC) with the same name,
// labels and kind, nothing is in one and not the other, counters read
// between two GetStats calls agree, and what a client's traffic moves
// moves in both; on a single node and on a clustered one (which adds the
// ics_cluster_* rows).
func TestMetricsAndAdminShowTheSameCounters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		clustered bool
	}{
		{"single node", false},
		{"clustered node", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, opt{tweak: func(c *config.Config) {
				// Scrapes on their own listener: they do not move the
				// loops' HTTP and write counters between the reads compared.
				c.MetricsAddr = "127.0.0.1:0"
				if tt.clustered {
					// Joined to a standalone NATS (-nats-url): the
					// smallest clustered node.
					c.NodeID = "m1"
					c.NATSURLs = []string{servertest.NATS(t, 0).ClientURL()}
				}
			}})
			checkSameCounters(t, e, tt.clustered)
			checkEveryCounterDeclared(t, e)
		})
	}
}

func checkSameCounters(t *testing.T, e *env, clustered bool) {
	maddr := e.srv.MetricsAddr().String()
	agree := func(when string) (adm, prom map[series]sample) {
		t.Helper()
		// Scraped between two admin reads, so each counter's scraped
		// value lies between them.
		a1, p, a2 := adminSamples(t, e), scrape(t, maddr), adminSamples(t, e)
		for s, x := range p {
			y, ok := a1[s]
			if !ok {
				t.Errorf("%s: %s is on /metrics, not in GetStats", when, s)
				continue
			}
			if x.kind != y.kind {
				t.Errorf("%s: %s is a %v on /metrics, a %v in GetStats", when, s, x.kind, y.kind)
			}
			if x.kind == metric.Counter && (x.value < y.value || x.value > a2[s].value) {
				t.Errorf("%s: %s = %v on /metrics, not between GetStats' %v and %v", when, s, x.value, y.value, a2[s].value)
			}
		}
		for s := range a1 {
			if _, ok := p[s]; !ok {
				t.Errorf("%s: %s is in GetStats, not on /metrics", when, s)
			}
		}
		// Every declared row is there, with its kind (none silently
		// skipped by both); cluster rows only on a clustered node.
		for _, d := range metric.Table() {
			want := d.Per != metric.PerCluster || clustered
			found := false
			for s, x := range p {
				if strings.HasPrefix(string(s), d.Name+"{") && hasFixed(string(s), d.Fixed) {
					found = x.kind == d.Kind
				}
			}
			if found != want {
				t.Errorf("%s: declared %v %s %v: on /metrics %t, want %t", when, d.Kind, d.Name, d.Fixed, found, want)
			}
		}
		return a2, p
	}

	adm0, prom0 := agree("at start")

	// Traffic: a plain HTTP request, a refused upgrade, two clients and a
	// chat message between them.
	if resp, err := http.Get("http://" + e.addr + "/healthz"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	var de *wstest.DialError
	if _, err := wstest.DialToken(e.addr, "not-a-token"); !errors.As(err, &de) {
		t.Fatalf("dial with a bad token: %v, want a refused upgrade", err)
	}
	alice := wstest.Dial(t, e.addr, "alice")
	bob := wstest.Dial(t, e.addr, "bob")
	quiet(t, alice, 100*time.Millisecond)
	quiet(t, bob, 100*time.Millisecond)
	if err := alice.Send("message", map[string]any{"body": "counted"}, nil); err != nil {
		t.Fatal(err)
	}
	for {
		f, _ := bob.Until(t, "message")
		if f.Str("body") == "counted" {
			break
		}
	}

	adm1, prom1 := agree("after traffic")
	moved := []string{
		"ics_http_requests_total", "ics_upgrades_rejected_total", "ics_upgrades_total",
		"ics_websocket_connections", "ics_room_members", "ics_nicknames",
		"ics_loop_commands_total", "ics_loop_messages_in_total", "ics_messages_in_total",
		"ics_shard_ops_total", "ics_shard_inbox_passes_total", "ics_deliveries_total", "ics_delivery_bytes_total",
		"ics_write_calls_total", "ics_frames_out_total", "ics_bytes_out_total",
	}
	if clustered {
		moved = append(moved, "ics_cluster_messages_out_total")
	}
	for _, name := range moved {
		if total(prom1, name) <= total(prom0, name) {
			t.Errorf("/metrics: %s stayed at %v", name, total(prom1, name))
		}
		if total(adm1, name) <= total(adm0, name) {
			t.Errorf("GetStats: %s stayed at %v", name, total(adm1, name))
		}
	}
}

// hasFixed reports whether series s carries every fixed label.
func hasFixed(s string, fixed []metric.Label) bool {
	for _, f := range fixed {
		if !strings.Contains(s, f.Name+`="`+f.Value+`"`) {
			return false
		}
	}
	return true
}

// notExported are the counter fields internal/metric deliberately does not
// read, and why.
var notExported = map[string]string{
	"wsio.LoopStats.FlushWindow": "a copy of fanout.Loop.Window made at read time (exported as ics_flush_window_seconds)",
	"fanout.Loop.Deliveries":     "read by nothing but a benchmark; ics_deliveries_total counts the same frames per shard",
}

// checkEveryCounterDeclared stores a distinct value in every exported
// atomic counter of the owners (shard.Stats, wsio.LoopStats, fanout.Loop,
// cluster.Stats) and looks for it in GetStats and on /metrics: a counter
// added to an owner without a row in internal/metric fails here.
func checkEveryCounterDeclared(t *testing.T, e *env) {
	t.Helper()
	src := e.srv.Metrics()
	owners := map[string]any{
		"shard.Stats":    src.Shards.Shard(0).Stats(),
		"wsio.LoopStats": src.WS.LoopStats()[0],
		"fanout.Loop":    src.Fanout[0],
	}
	if c := src.Cluster; c != nil {
		owners["cluster.Stats"] = c.Stats()
	}
	// The cluster's heartbeat stores its gauges every second: a value
	// overwritten between the store and the read gets another try.
	var missing []string
	for try := range 3 {
		missing = missing[:0]
		want := pokeAll(t, owners, int64(try+7)*1_000_000)
		adm, prom := adminSamples(t, e), scrape(t, e.srv.MetricsAddr().String())
		for n, field := range want {
			if !hasValue(adm, n) || !hasValue(prom, n) {
				missing = append(missing, fmt.Sprintf("%s (in GetStats %t, on /metrics %t)", field, hasValue(adm, n), hasValue(prom, n)))
			}
		}
		if len(missing) == 0 {
			break
		}
	}
	for _, m := range missing {
		t.Errorf("%s is not read by any internal/metric row: declare it, or say why not in notExported", m)
	}
}

// pokeAll stores a distinct value (from base up) in every exported atomic
// counter field of the owners, restored when the test ends, and returns
// which field holds which value.
func pokeAll(t *testing.T, owners map[string]any, base int64) map[float64]string {
	want := map[float64]string{}
	for name, o := range owners {
		v := reflect.ValueOf(o).Elem()
		for i := range v.NumField() {
			f, field := v.Field(i), name+"."+v.Type().Field(i).Name
			if !v.Type().Field(i).IsExported() || notExported[field] != "" {
				continue
			}
			base += 1000
			n := base
			switch a := f.Addr().Interface().(type) {
			case *atomic.Uint64:
				old := a.Load()
				a.Store(uint64(n))
				t.Cleanup(func() { a.Store(old) })
			case *atomic.Int64:
				old := a.Load()
				a.Store(n)
				t.Cleanup(func() { a.Store(old) })
			default:
				continue
			}
			want[float64(n)] = field
		}
	}
	return want
}

// hasValue reports whether a sample is n (or n nanoseconds exported as
// seconds).
func hasValue(ss map[series]sample, n float64) bool {
	for _, x := range ss {
		if x.value == n || x.value == n/1e9 {
			return true
		}
	}
	return false
}
