// Package cluster owns everything that crosses nodes: the embedded NATS
// server (or the connection to an existing NATS cluster), the node registry
// and the nickname claims (JetStream KV buckets), room traffic between
// nodes (one NATS subject per room) and the scatter-gather requests that
// list rooms and users cluster-wide.
//
// A Node is the shards' Bridge: shards hand it room events and watch
// changes, which it queues and publishes from its own goroutine, in order.
// Events from other nodes arrive on NATS callbacks, which hand them to the
// owning shard's inbox. Event loops reach the network only through Go,
// which runs work on a bounded set of goroutines (false: busy).
//
// It must never block a shard or an event loop, never hold room state
// itself (the shards own rooms, including their remote members), and never
// be started on a single node: without -cluster-listen or -nats-url no Node
// exists and nothing here runs.
package cluster
