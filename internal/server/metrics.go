package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector reads the counters the shards and event loops own (atomics) at
// scrape time: nothing on the hot path touches Prometheus.
type collector struct {
	s *Server

	conns, rooms, members, nicks, inbox, inboxHigh                            *prometheus.Desc
	messagesIn, deliveries, bytesQueued, shardCmds, shardErrors, shardBusy    *prometheus.Desc
	writes, frames, bytesOut, slowCloses, rateCloses, rateLimited, protoClose *prometheus.Desc
	pingCloses, upgrades, rejected, httpReqs, draining                        *prometheus.Desc
	historyBytes, historyEvictions, flushWindow                               *prometheus.Desc
	socketsRefused                                                            *prometheus.Desc
}

func newCollector(s *Server) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("ics_"+name, help, labels, nil)
	}
	return &collector{
		s:           s,
		conns:       d("connections", "Open sockets per event loop (HTTP and WebSocket).", "loop"),
		rooms:       d("rooms", "Rooms owned per shard.", "shard"),
		members:     d("room_members", "Connections in rooms per shard.", "shard"),
		nicks:       d("nicknames", "Nicknames held or reserved per shard.", "shard"),
		inbox:       d("shard_inbox_depth", "Ops waiting in the shard inbox now.", "shard"),
		inboxHigh:   d("shard_inbox_high_water", "Largest inbox pass seen.", "shard"),
		messagesIn:  d("messages_in_total", "Chat messages published, per shard.", "shard"),
		deliveries:  d("deliveries_total", "Frames fanned out to connections, per shard.", "shard"),
		bytesQueued: d("delivery_bytes_total", "Bytes of frames fanned out, per shard.", "shard"),
		shardCmds:   d("shard_ops_total", "Ops handled per shard.", "shard"),
		shardErrors: d("shard_errors_total", "Commands answered with an error by a shard.", "shard"),
		shardBusy:   d("shard_busy_total", "Client ops refused because the shard inbox was full.", "shard"),
		writes:      d("write_calls_total", "write/writev system calls per event loop.", "loop"),
		frames:      d("frames_out_total", "WebSocket frames written per event loop.", "loop"),
		bytesOut:    d("bytes_out_total", "Bytes written per event loop.", "loop"),
		slowCloses:  d("slow_consumer_closes_total", "Connections closed 4008 (outbound backlog over the limit).", "loop"),
		rateCloses:  d("rate_limit_closes_total", "Connections closed 4029 (too many rate-limited commands).", "loop"),
		rateLimited: d("rate_limited_commands_total", "Commands refused by the per-connection rate limit.", "loop"),
		protoClose:  d("protocol_error_closes_total", "Connections closed for WebSocket protocol errors.", "loop"),
		pingCloses:  d("ping_timeout_closes_total", "Connections closed for not answering pings.", "loop"),
		upgrades:    d("upgrades_total", "Completed WebSocket upgrades.", "loop"),
		rejected:    d("upgrades_rejected_total", "Refused WebSocket handshakes.", "loop"),
		httpReqs:    d("http_requests_total", "Plain HTTP requests served.", "loop"),
		draining:    d("draining", "1 while the server drains."),
		flushWindow: d("flush_window_seconds", "Live write-coalescing window per event loop (-flush-interval, widened up to -flush-max while the loop is busy).", "loop"),

		historyBytes:     d("history_bytes", "Bytes of message frames kept for the history command, per shard.", "shard"),
		historyEvictions: d("history_evictions_total", "Kept messages dropped, per shard and reason (size: room over -history-size, age: older than -history-ttl, bytes: over -history-max-bytes).", "shard", "reason"),
		socketsRefused:   d("sockets_refused_total", "Sockets closed at accept: over -max-sockets or -max-conns-per-ip."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	ct := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	for i := 0; i < c.s.shards.Len(); i++ {
		sh := c.s.shards.Shard(i)
		st := sh.Stats()
		id := strconv.Itoa(i)
		g(c.rooms, float64(st.Rooms.Load()), id)
		g(c.members, float64(st.Members.Load()), id)
		g(c.nicks, float64(st.Nicknames.Load()), id)
		g(c.inbox, float64(sh.InboxDepth()), id)
		g(c.inboxHigh, float64(st.InboxHigh.Load()), id)
		ct(c.messagesIn, st.MessagesIn.Load(), id)
		ct(c.deliveries, st.Deliveries.Load(), id)
		ct(c.bytesQueued, st.BytesOut.Load(), id)
		ct(c.shardCmds, st.Commands.Load(), id)
		ct(c.shardErrors, st.Errors.Load(), id)
		ct(c.shardBusy, st.Busy.Load(), id)
		g(c.historyBytes, float64(st.HistoryBytes.Load()), id)
		ct(c.historyEvictions, st.HistoryEvictSize.Load(), id, "size")
		ct(c.historyEvictions, st.HistoryEvictAge.Load(), id, "age")
		ct(c.historyEvictions, st.HistoryEvictBytes.Load(), id, "bytes")
	}
	for i, st := range c.s.ws.LoopStats() {
		id := strconv.Itoa(i)
		g(c.conns, float64(st.Conns.Load()), id)
		ct(c.writes, st.Writes.Load(), id)
		ct(c.frames, st.Frames.Load(), id)
		ct(c.bytesOut, st.BytesOut.Load(), id)
		ct(c.slowCloses, st.SlowCloses.Load(), id)
		ct(c.rateCloses, st.RateCloses.Load(), id)
		ct(c.rateLimited, st.RateLimited.Load(), id)
		ct(c.protoClose, st.ProtocolCloses.Load(), id)
		ct(c.pingCloses, st.PingCloses.Load(), id)
		ct(c.upgrades, st.Upgrades.Load(), id)
		ct(c.rejected, st.Rejected.Load(), id)
		ct(c.httpReqs, st.HTTPRequests.Load(), id)
		g(c.flushWindow, time.Duration(st.FlushWindow.Load()).Seconds(), id)
	}
	d := 0.0
	if c.s.Draining() {
		d = 1
	}
	g(c.draining, d)
	ct(c.socketsRefused, c.s.ws.Refused())
}
