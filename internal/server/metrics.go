package server

import "github.com/ics-chat/ics/internal/metric"

// Metrics is where this server's declared values (internal/metric) are
// read: /metrics and the admin API's GetStats both read through it.
func (s *Server) Metrics() *metric.Source {
	return &metric.Source{Shards: s.shards, WS: s.ws, Fanout: s.loops, Cluster: s.cluster}
}
