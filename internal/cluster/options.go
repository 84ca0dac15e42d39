package cluster

import (
	"log/slog"
	"time"

	"github.com/ics-chat/ics/internal/config"
)

// Defaults of Options.
const (
	DefaultHeartbeat      = time.Second
	DefaultNodeTTL        = 3 * time.Second
	DefaultRequestTimeout = time.Second
	DefaultClaimWindow    = 60 * time.Second
	DefaultOutboxLimit    = 1 << 17
	DefaultMaxInFlight    = 1024
	DefaultStartTimeout   = 60 * time.Second
)

// Bucket and subject names: the cluster's vocabulary, declared once.
const (
	NodesBucket    = "ics_nodes"  // registry: node id → Record, TTL NodeTTL
	ClaimsBucket   = "ics_claims" // lowercase nickname → "incarnation jti"
	roomSubject    = "ics.room."  // + room name: every event of that room
	roomsQuery     = "ics.q.rooms"
	usersQuery     = "ics.q.users"
	kickQuery      = "ics.q.kick"
	broadcastSubj  = "ics.q.broadcast"
	deleteRoomSubj = "ics.q.deleteroom"
	revokeSubj     = "ics.revoke"   // a token given up by exit, for every node
	takeoverSubj   = "ics.takeover" // a token's claim moved to another node
	helloSubj      = "ics.hello"    // every heartbeat's record, for the others' views
	roomsSubj      = "ics.rooms"    // a node's listed rooms changed (payload: its incarnation)
)

// Load is what a node reports about itself in its registry record.
type Load struct {
	HTTP, Admin  string
	Conns, Rooms int64
}

// Options configure a Node.
type Options struct {
	NodeID        string
	ClusterListen string   // embedded NATS route listener ("" with NATSURLs: external)
	ClusterPeers  []string // route URLs
	NATSListen    string   // embedded NATS client port ("" = in-process only)
	NATSURLs      []string // external NATS cluster
	StoreDir      string   // JetStream store of the embedded server ("" = a temporary dir)

	Heartbeat      time.Duration // registry record refresh
	NodeTTL        time.Duration // a record not refreshed for this long is a dead node
	RequestTimeout time.Duration // deadline of cross-node requests and KV operations
	ClaimWindow    time.Duration // an /auth claim not used by /ws within this is freed
	OutboxLimit    int           // events queued for publishing before Out drops (counted)
	MaxInFlight    int           // concurrent Go work (claims, gathers) before busy
	StartTimeout   time.Duration // how long Start waits for JetStream

	Logger *slog.Logger
	// Load reports this node's addresses and size for its record.
	Load func() Load
	// OnLost is called once per loss, on its own goroutine, when the node
	// loses the cluster (NATS connection gone or the registry
	// unreachable). It must close every client before it returns: the
	// node tries to rejoin only then.
	OnLost func(reason string)
	// OnRejoined is called when a node that lost the cluster is back in
	// it (a new incarnation in the registry): it may serve again.
	OnRejoined func()
}

// OptionsFrom takes the cluster flags from cfg, with the default timings.
func OptionsFrom(cfg config.Config) Options {
	return Options{
		NodeID:        cfg.NodeID,
		ClusterListen: cfg.ClusterListen,
		ClusterPeers:  cfg.ClusterPeers,
		NATSListen:    cfg.NATSListen,
		NATSURLs:      cfg.NATSURLs,
	}
}

func (o *Options) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&o.Heartbeat, DefaultHeartbeat)
	set(&o.NodeTTL, DefaultNodeTTL)
	set(&o.RequestTimeout, DefaultRequestTimeout)
	set(&o.ClaimWindow, DefaultClaimWindow)
	set(&o.StartTimeout, DefaultStartTimeout)
	if o.OutboxLimit <= 0 {
		o.OutboxLimit = DefaultOutboxLimit
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Load == nil {
		o.Load = func() Load { return Load{} }
	}
	if o.OnLost == nil {
		o.OnLost = func(string) {}
	}
	if o.OnRejoined == nil {
		o.OnRejoined = func() {}
	}
}
