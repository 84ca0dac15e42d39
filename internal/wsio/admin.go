package wsio

import "github.com/ics-chat/ics/internal/shard"

// Backlog is how many bytes the connection's socket holds written but not yet
// sent, as of its last flush. Safe from any goroutine (the admin API reads
// it through shard.Backlogger).
func (c *conn) Backlog() int64 { return c.backlog.Load() }

var _ shard.Backlogger = (*conn)(nil)
