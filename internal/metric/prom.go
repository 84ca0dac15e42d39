package metric

import "github.com/prometheus/client_golang/prometheus"

// Collector exports src's samples to Prometheus at scrape time: nothing on
// the hot path touches Prometheus.
type Collector struct {
	src   *Source
	descs []*prometheus.Desc // by table row; nil where !src.Present
}

// NewCollector returns a Collector of every table row src has. Rows that
// share a name share one Desc (Prometheus allows one per name).
func NewCollector(src *Source) *Collector {
	c := &Collector{src: src, descs: make([]*prometheus.Desc, len(table))}
	byName := map[string]*prometheus.Desc{}
	for i := range table {
		d := &table[i]
		if !src.Present(d) {
			continue
		}
		if byName[d.Name] == nil {
			byName[d.Name] = prometheus.NewDesc(d.Name, d.Help, d.LabelNames(), nil)
		}
		c.descs[i] = byName[d.Name]
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for i, d := range c.descs {
		if d != nil && (i == 0 || c.descs[i-1] != d) {
			ch <- d
		}
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.src.Read(func(s Sample) {
		t := prometheus.GaugeValue
		if s.Def.Kind == Counter {
			t = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(c.descs[s.Row], t, s.Value, s.LabelValues...)
	})
}
