package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ics-chat/ics/internal/cluster"
)

// clusterCollector exports a cluster node's counters (registered only on
// a clustered node, so a single node's /metrics is unchanged).
type clusterCollector struct {
	n *cluster.Node

	out, in, dropped, conflicts, busy, swept, rtt, registry, lost *prometheus.Desc
}

func newClusterCollector(n *cluster.Node) *clusterCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("ics_cluster_"+name, help, nil, prometheus.Labels{"node": n.ID()})
	}
	return &clusterCollector{
		n:         n,
		out:       d("messages_out_total", "Room events published to other nodes (one per room message, not per member)."),
		in:        d("messages_in_total", "Room events received from other nodes."),
		dropped:   d("dropped_total", "Room events dropped because the outbox or a shard inbox was full."),
		conflicts: d("claim_conflicts_total", "Nickname claims refused because another token holds the name in the cluster."),
		busy:      d("busy_total", "Cross-node requests refused because too many were in flight (server_busy)."),
		swept:     d("claims_swept_total", "Nickname claims of dead nodes freed by this node."),
		rtt:       d("nats_rtt_seconds", "Last measured round trip to the NATS server."),
		registry:  d("registry_nodes", "Nodes in the registry at the last heartbeat."),
		lost:      d("lost", "1 once the node has lost the cluster (not ready)."),
	}
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.n.Stats()
	ct := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	g := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	ct(c.out, st.MessagesOut.Load())
	ct(c.in, st.MessagesIn.Load())
	ct(c.dropped, st.Dropped.Load())
	ct(c.conflicts, st.ClaimConflicts.Load())
	ct(c.busy, st.Busy.Load())
	ct(c.swept, st.Swept.Load())
	g(c.rtt, float64(st.RTTNanos.Load())/1e9)
	g(c.registry, float64(st.Registry.Load()))
	lost := 0.0
	if c.n.Lost() {
		lost = 1
	}
	g(c.lost, lost)
}
