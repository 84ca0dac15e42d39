package metric

import (
	"time"

	"github.com/ics-chat/ics/internal/shard"
	"github.com/ics-chat/ics/internal/wsio"
)

// table is the one list of exported values. The names and labels are a
// public contract (dashboards, alerts, tests): rename nothing. The README's
// "Metrics" section lists them for operators.
var table = []Def{
	loop("ics_connections", "Open sockets per event loop (HTTP and WebSocket).", Gauge, func(l *wsio.LoopStats) float64 { return i64(l.Conns.Load()) }),
	loop("ics_websocket_connections", "Open WebSocket connections per event loop (ics_connections also counts plain HTTP sockets).", Gauge, func(l *wsio.LoopStats) float64 { return i64(l.WSConns.Load()) }),

	stat("ics_rooms", "Rooms owned per shard.", Gauge, func(s *shard.Stats) float64 { return i64(s.Rooms.Load()) }),
	stat("ics_room_members", "Connections in rooms per shard.", Gauge, func(s *shard.Stats) float64 { return i64(s.Members.Load()) }),
	stat("ics_nicknames", "Nicknames held or reserved per shard.", Gauge, func(s *shard.Stats) float64 { return i64(s.Nicknames.Load()) }),
	{Name: "ics_shard_inbox_depth", Help: "Ops waiting in the shard inbox now.", Kind: Gauge, Per: PerShard,
		read: func(a at) float64 { return float64(a.shard.InboxDepth()) }},
	stat("ics_shard_inbox_high_water", "Largest inbox pass seen.", Gauge, func(s *shard.Stats) float64 { return i64(s.InboxHigh.Load()) }),
	stat("ics_shard_inbox_passes_total", "Inbox passes per shard (ics_deliveries_total / passes is the batching factor).", Counter, func(s *shard.Stats) float64 { return u64(s.InboxPasses.Load()) }),
	stat("ics_messages_in_total", "Chat messages published, per shard.", Counter, func(s *shard.Stats) float64 { return u64(s.MessagesIn.Load()) }),
	stat("ics_remote_messages_in_total", "Chat messages from other nodes published in rooms with local members, per shard (0 on a single node).", Counter, func(s *shard.Stats) float64 { return u64(s.RemoteIn.Load()) }),
	stat("ics_remote_gaps_total", "Times a room found it missed another node's events (lost under load): its local members were closed with 1012 and its history line broke, per shard.", Counter, func(s *shard.Stats) float64 { return u64(s.RemoteGaps.Load()) }),
	stat("ics_deliveries_total", "Frames fanned out to connections, per shard.", Counter, func(s *shard.Stats) float64 { return u64(s.Deliveries.Load()) }),
	stat("ics_delivery_bytes_total", "Bytes of frames fanned out, per shard.", Counter, func(s *shard.Stats) float64 { return u64(s.BytesOut.Load()) }),
	stat("ics_shard_ops_total", "Ops handled per shard.", Counter, func(s *shard.Stats) float64 { return u64(s.Commands.Load()) }),
	stat("ics_shard_errors_total", "Commands answered with an error by a shard.", Counter, func(s *shard.Stats) float64 { return u64(s.Errors.Load()) }),
	stat("ics_shard_busy_total", "Client ops refused because the shard inbox was full.", Counter, func(s *shard.Stats) float64 { return u64(s.Busy.Load()) }),
	stat("ics_history_bytes", "Bytes of message frames kept for the history command, per shard.", Gauge, func(s *shard.Stats) float64 { return i64(s.HistoryBytes.Load()) }),
	eviction("size", func(s *shard.Stats) float64 { return u64(s.HistoryEvictSize.Load()) }),
	eviction("age", func(s *shard.Stats) float64 { return u64(s.HistoryEvictAge.Load()) }),
	eviction("bytes", func(s *shard.Stats) float64 { return u64(s.HistoryEvictBytes.Load()) }),

	loop("ics_loop_messages_in_total", "Chat messages received per event loop.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.MessagesIn.Load()) }),
	loop("ics_loop_commands_total", "Commands received per event loop.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.Commands.Load()) }),
	loop("ics_write_calls_total", "write/writev system calls per event loop.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.Writes.Load()) }),
	loop("ics_frames_out_total", "WebSocket frames written per event loop.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.Frames.Load()) }),
	loop("ics_bytes_out_total", "Bytes written per event loop.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.BytesOut.Load()) }),
	loop("ics_slow_consumer_closes_total", "Connections closed 4008 (outbound backlog over the limit).", Counter, func(l *wsio.LoopStats) float64 { return u64(l.SlowCloses.Load()) }),
	loop("ics_rate_limit_closes_total", "Connections closed 4029 (too many rate-limited commands).", Counter, func(l *wsio.LoopStats) float64 { return u64(l.RateCloses.Load()) }),
	loop("ics_rate_limited_commands_total", "Commands refused by the per-connection rate limit.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.RateLimited.Load()) }),
	loop("ics_protocol_error_closes_total", "Connections closed for WebSocket protocol errors.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.ProtocolCloses.Load()) }),
	loop("ics_ping_timeout_closes_total", "Connections closed for not answering pings.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.PingCloses.Load()) }),
	loop("ics_upgrades_total", "Completed WebSocket upgrades.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.Upgrades.Load()) }),
	loop("ics_upgrades_rejected_total", "Refused WebSocket handshakes.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.Rejected.Load()) }),
	loop("ics_http_requests_total", "Plain HTTP requests served.", Counter, func(l *wsio.LoopStats) float64 { return u64(l.HTTPRequests.Load()) }),
	{Name: "ics_fanout_dropped_total", Help: "Frames dropped per event loop because its fan-out queue was full (each connection that lost one is closed 4008 as a slow consumer).", Kind: Counter, Per: PerLoop,
		read: func(a at) float64 { return u64(a.fan.Dropped.Load()) }},
	loop("ics_flush_window_seconds", "Live write-coalescing window per event loop (-flush-interval, widened up to -flush-max while the loop is busy).", Gauge,
		func(l *wsio.LoopStats) float64 { return time.Duration(l.FlushWindow.Load()).Seconds() }),

	{Name: "ics_draining", Help: "1 while the server drains.", Kind: Gauge, Per: PerNode,
		read: func(a at) float64 { return flag(a.src.WS.Draining()) }},
	{Name: "ics_sockets_refused_total", Help: "Sockets closed at accept: over -max-sockets or -max-conns-per-ip.", Kind: Counter, Per: PerNode,
		read: func(a at) float64 { return u64(a.src.WS.Refused()) }},

	{Name: "ics_cluster_messages_out_total", Help: "Room events published to other nodes (one per room message, not per member).", Kind: Counter, Per: PerCluster,
		read: func(a at) float64 { return u64(a.src.Cluster.Stats().MessagesOut.Load()) }},
	{Name: "ics_cluster_messages_in_total", Help: "Room events received from other nodes.", Kind: Counter, Per: PerCluster,
		read: func(a at) float64 { return u64(a.src.Cluster.Stats().MessagesIn.Load()) }},
	{Name: "ics_cluster_dropped_total", Help: "Room events dropped because the outbox or a shard inbox was full.", Kind: Counter, Per: PerCluster,
		read: func(a at) float64 { return u64(a.src.Cluster.Stats().Dropped.Load()) }},
	{Name: "ics_cluster_claim_conflicts_total", Help: "Nickname claims refused because another token holds the name in the cluster.", Kind: Counter, Per: PerCluster,
		read: func(a at) float64 { return u64(a.src.Cluster.Stats().ClaimConflicts.Load()) }},
	{Name: "ics_cluster_busy_total", Help: "Cross-node requests refused because too many were in flight (server_busy).", Kind: Counter, Per: PerCluster,
		read: func(a at) float64 { return u64(a.src.Cluster.Stats().Busy.Load()) }},
	{Name: "ics_cluster_claims_swept_total", Help: "Nickname claims of dead nodes freed by this node.", Kind: Counter, Per: PerCluster,
		read: func(a at) float64 { return u64(a.src.Cluster.Stats().Swept.Load()) }},
	{Name: "ics_cluster_nats_rtt_seconds", Help: "Last measured round trip to the NATS server.", Kind: Gauge, Per: PerCluster,
		read: func(a at) float64 { return time.Duration(a.src.Cluster.Stats().RTTNanos.Load()).Seconds() }},
	{Name: "ics_cluster_registry_nodes", Help: "Nodes in the registry at the last heartbeat.", Kind: Gauge, Per: PerCluster,
		read: func(a at) float64 { return i64(a.src.Cluster.Stats().Registry.Load()) }},
	{Name: "ics_cluster_lost", Help: "1 while the node is out of the cluster (lost or rejoining: not ready).", Kind: Gauge, Per: PerCluster,
		read: func(a at) float64 { return flag(a.src.Cluster.Lost()) }},
	{Name: "ics_cluster_losses_total", Help: "Times the node lost the cluster (its clients were closed with 1012).", Kind: Counter, Per: PerCluster,
		read: func(a at) float64 { return u64(a.src.Cluster.Stats().Lost.Load()) }},
	{Name: "ics_cluster_rejoins_total", Help: "Times the node rejoined the cluster after a loss (as a new incarnation).", Kind: Counter, Per: PerCluster,
		read: func(a at) float64 { return u64(a.src.Cluster.Stats().Rejoined.Load()) }},
}

// evictionHelp is shared by the three reason rows of one family (Prometheus
// wants one help per name).
const evictionHelp = "Kept messages dropped, per shard and reason (size: room over -history-size, age: older than -history-ttl, bytes: over -history-max-bytes)."

func eviction(reason string, v func(*shard.Stats) float64) Def {
	d := stat("ics_history_evictions_total", evictionHelp, Counter, v)
	d.Fixed = []Label{{Name: "reason", Value: reason}}
	return d
}

// stat declares a per-shard value read from shard.Stats.
func stat(name, help string, k Kind, v func(*shard.Stats) float64) Def {
	return Def{Name: name, Help: help, Kind: k, Per: PerShard, read: func(a at) float64 { return v(a.st) }}
}

// loop declares a per-event-loop value read from wsio.LoopStats.
func loop(name, help string, k Kind, v func(*wsio.LoopStats) float64) Def {
	return Def{Name: name, Help: help, Kind: k, Per: PerLoop, read: func(a at) float64 { return v(a.loop) }}
}

func u64(v uint64) float64 { return float64(v) }
func i64(v int64) float64  { return float64(v) }

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
