package metric

import (
	"strconv"

	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/fanout"
	"github.com/ics-chat/ics/internal/shard"
	"github.com/ics-chat/ics/internal/wsio"
)

// Kind says whether a value only grows (Counter) or goes up and down (Gauge).
type Kind uint8

// Kinds.
const (
	Counter Kind = iota + 1
	Gauge
)

func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Scope says what one sample of a Def is per, and so its first label.
type Scope uint8

// Scopes.
const (
	PerNode    Scope = iota + 1 // one sample, no label
	PerShard                    // one sample per shard, label shard="i"
	PerLoop                     // one sample per event loop, label loop="i"
	PerCluster                  // one sample, label node="ID"; only on a clustered node
)

// Label returns the name of the scope's label ("" for PerNode).
func (s Scope) Label() string {
	switch s {
	case PerShard:
		return "shard"
	case PerLoop:
		return "loop"
	case PerCluster:
		return "node"
	}
	return ""
}

// Label is one label name and value.
type Label struct{ Name, Value string }

// Def declares one exported value.
type Def struct {
	Name string // full Prometheus name, e.g. ics_upgrades_total
	Help string
	Kind Kind
	Per  Scope
	// Fixed are labels with one value for this row: several rows may share
	// a Name (and Help) and differ in them, e.g. reason="size" and
	// reason="age" of ics_history_evictions_total.
	Fixed []Label
	read  func(at) float64
}

// LabelNames are the Def's label names in sample order: the scope's label
// (if any), then the Fixed ones.
func (d *Def) LabelNames() []string {
	var ns []string
	if l := d.Per.Label(); l != "" {
		ns = append(ns, l)
	}
	for _, f := range d.Fixed {
		ns = append(ns, f.Name)
	}
	return ns
}

// Source is where the values are read: the owners of the atomics.
type Source struct {
	Shards  *shard.Group
	WS      *wsio.Server
	Fanout  []*fanout.Loop // by loop index, as WS's loops
	Cluster *cluster.Node  // nil on a single node: PerCluster rows are absent
}

// at is what a Def's read looks at: the whole source, plus the shard or
// loop of the sample being read.
type at struct {
	src   *Source
	shard *shard.Shard
	st    *shard.Stats
	loop  *wsio.LoopStats
	fan   *fanout.Loop
}

// Table is every declared value, in /metrics order. Callers must not
// modify it.
func Table() []Def { return table }

// Present reports whether src exports d's samples (PerCluster rows only on
// a clustered node).
func (src *Source) Present(d *Def) bool { return d.Per != PerCluster || src.Cluster != nil }

// Sample is one value read now.
type Sample struct {
	Row         int  // index in Table
	Def         *Def // &Table()[Row]
	Value       float64
	LabelValues []string // in Def.LabelNames() order
}

// Labels are the sample's labels, name and value, in Def.LabelNames() order.
func (s *Sample) Labels() []Label {
	ls := make([]Label, len(s.LabelValues))
	for i, n := range s.Def.LabelNames() {
		ls[i] = Label{Name: n, Value: s.LabelValues[i]}
	}
	return ls
}

// Read calls emit for every sample src has now, in table order. It only
// loads atomics.
func (src *Source) Read(emit func(Sample)) {
	loops := src.WS.LoopStats()
	for i := range table {
		d := &table[i]
		if !src.Present(d) {
			continue
		}
		one := func(a at, scope string) {
			lv := make([]string, 0, 1+len(d.Fixed))
			if scope != "" {
				lv = append(lv, scope)
			}
			for _, f := range d.Fixed {
				lv = append(lv, f.Value)
			}
			emit(Sample{Row: i, Def: d, Value: d.read(a), LabelValues: lv})
		}
		switch d.Per {
		case PerShard:
			for s := range src.Shards.Len() {
				sh := src.Shards.Shard(s)
				one(at{src: src, shard: sh, st: sh.Stats()}, strconv.Itoa(s))
			}
		case PerLoop:
			for l, ls := range loops {
				one(at{src: src, loop: ls, fan: src.Fanout[l]}, strconv.Itoa(l))
			}
		case PerCluster:
			one(at{src: src}, src.Cluster.ID())
		default:
			one(at{src: src}, "")
		}
	}
}
