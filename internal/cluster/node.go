package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/singleflight"

	"github.com/ics-chat/ics/internal/shard"
)

// ErrBusy is returned when cross-node work is refused because too much is
// in flight (answer server_busy).
var ErrBusy = errors.New("cluster busy")

// Node is this server's membership of the cluster.
type Node struct {
	opts   Options
	inc    atomic.Pointer[string] // incarnation (see incarnation); owns claims and members
	start  time.Time              // when this process joined (its record's Started)
	shards *shard.Group

	ns     *natsserver.Server // nil when joined to an external cluster
	tmpDir string
	nc     *nats.Conn
	js     jetstream.JetStream
	nodes  jetstream.KeyValue
	claims jetstream.KeyValue

	out outbox
	sem chan struct{}
	// roomAsks merges concurrent RemoteRooms gathers of one filter.
	roomAsks singleflight.Group
	// life ends with Stop (endLife): work that may outlast a request, such
	// as a release retrying, stops then.
	life    context.Context
	endLife context.CancelFunc
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	// trackMu guards untracked: once Stop waits on wg, nothing is added.
	trackMu   sync.Mutex
	untracked bool
	// watch runs the KV watchers; rejoin restarts them (registry loop
	// only, after Start).
	watch watchers

	mu      sync.Mutex
	live    map[string]Record  // registry: node id → record (this node's view)
	alive   map[string]bool    // incarnations alive at the last poll
	missing map[string]int     // incarnation → registry polls it was absent from
	owners  map[string]owner   // claims bucket mirror: key → owner
	pending map[string]pending // this node's /auth claims not yet used by /ws

	stopping atomic.Bool
	started  atomic.Bool  // Start succeeded: the connection may be used by anyone
	phase    atomic.Int32 // a Phase
	stats    Stats
}

// Phase is where a node stands in the cluster.
type Phase int32

// The phases: Up → Lost (OnLost runs: the node closes its clients) →
// Rejoining (tries each heartbeat) → Up again, under a new incarnation.
const (
	PhaseUp        Phase = iota // in the cluster, serving
	PhaseLost                   // cut off; OnLost is running
	PhaseRejoining              // OnLost returned; rejoining at each heartbeat
)

// String names the phase for logs and the admin API.
func (p Phase) String() string {
	switch p {
	case PhaseUp:
		return "up"
	case PhaseLost:
		return "lost"
	case PhaseRejoining:
		return "rejoining"
	}
	return "Phase(" + strconv.Itoa(int(p)) + ")"
}

// Stats are the node's counters (read anywhere).
type Stats struct {
	MessagesOut    atomic.Uint64 // room events published
	MessagesIn     atomic.Uint64 // room events received
	Dropped        atomic.Uint64 // events dropped: outbox or shard inbox full
	ClaimConflicts atomic.Uint64 // claims refused because another token holds the name
	Busy           atomic.Uint64 // Go refused: too much in flight
	Lost           atomic.Uint64 // times the node lost the cluster
	Rejoined       atomic.Uint64 // times it rejoined after a loss
	RTTNanos       atomic.Int64  // last NATS round trip
	Registry       atomic.Int64  // live nodes in the registry
	Swept          atomic.Uint64 // claims of dead nodes freed
}

// New returns a Node for opts; Start connects it. It is the shards' Bridge
// from the moment it exists: events queued before Start go out after it.
func New(opts Options) *Node {
	opts.defaults()
	n := &Node{
		opts:    opts,
		start:   time.Now(),
		sem:     make(chan struct{}, opts.MaxInFlight),
		live:    map[string]Record{},
		missing: map[string]int{},
		owners:  map[string]owner{},
		pending: map[string]pending{},
	}
	n.out.init(opts.OutboxLimit)
	n.newIncarnation()
	n.life, n.endLife = context.WithCancel(context.Background())
	return n
}

// newIncarnation names a new run of this node: its id and the time. A node
// that rejoins after losing the cluster comes back as a new incarnation, so
// the others treat the old one as dead (its members leave, its claims are
// swept) exactly as if the process had been restarted.
func (n *Node) newIncarnation() {
	inc := n.opts.NodeID + "." + strconv.FormatInt(time.Now().UnixNano(), 36)
	n.inc.Store(&inc)
}

// incarnation is the current incarnation.
func (n *Node) incarnation() string { return *n.inc.Load() }

// ID is the node id; Incarnation names this run of it.
func (n *Node) ID() string          { return n.opts.NodeID }
func (n *Node) Incarnation() string { return n.incarnation() }

// Stats are the node's counters.
func (n *Node) Stats() *Stats { return &n.stats }

// Lost reports whether the node is out of the cluster (lost or rejoining).
func (n *Node) Lost() bool { return n.Phase() != PhaseUp }

// Phase is where the node stands in the cluster.
func (n *Node) Phase() Phase { return Phase(n.phase.Load()) }

// NATSServer is the embedded NATS server (nil when joined to an external
// one). Tests use it to cut a node off.
func (n *Node) NATSServer() *natsserver.Server { return n.ns }

// Start runs the embedded server (or connects to the external one), opens
// the buckets, registers the node and starts its goroutines. It returns
// once the node is in the registry.
func (n *Node) Start(ctx context.Context, g *shard.Group) error {
	n.shards = g
	ctx, cancel := context.WithTimeout(ctx, n.opts.StartTimeout)
	defer cancel()
	if err := n.connect(); err != nil {
		n.cleanupConn()
		return err
	}
	if err := n.openBuckets(ctx); err != nil {
		n.cleanupConn()
		return err
	}
	// Answer the others before they learn we exist.
	if err := n.subscribeQueries(); err != nil {
		n.cleanupConn()
		return err
	}
	if _, err := n.nc.Subscribe(helloSubj, n.onHello); err != nil {
		n.cleanupConn()
		return fmt.Errorf("subscribe %s: %w", helloSubj, err)
	}
	if err := n.heartbeat(ctx); err != nil {
		n.cleanupConn()
		return fmt.Errorf("register node %s: %w", n.opts.NodeID, err)
	}
	n.poll(ctx)
	rctx, rcancel := context.WithCancel(context.Background())
	n.cancel = rcancel
	if err := n.watch.start(rctx, n); err != nil {
		rcancel()
		n.cleanupConn()
		return err
	}
	n.spawn(func() { n.publisher(rctx) })
	n.spawn(func() { n.registryLoop(rctx) })
	n.started.Store(true)
	return nil
}

func (n *Node) spawn(fn func()) {
	if !n.track() {
		return
	}
	go func() {
		defer n.wg.Done()
		fn()
	}()
}

func (n *Node) connect() error {
	opts := []nats.Option{
		nats.Name("ics-" + n.opts.NodeID),
		nats.NoEcho(), // our own room events were delivered locally already
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { n.markLost(fmt.Sprintf("NATS disconnected: %v", err)) }),
		nats.ClosedHandler(func(*nats.Conn) { n.markLost("NATS connection closed") }),
	}
	url := ""
	if n.opts.ClusterListen != "" {
		token := rand.Text()
		ns, tmp, err := startEmbedded(&n.opts, token)
		n.ns, n.tmpDir = ns, tmp
		if err != nil {
			return err
		}
		opts = append(opts, nats.InProcessServer(ns))
		if n.opts.NATSListen == "" {
			opts = append(opts, nats.Token(token))
		}
	} else {
		url = joinComma(n.opts.NATSURLs)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect to NATS %q: %w", url, err)
	}
	n.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	n.js = js
	return nil
}

// openBuckets creates (or opens) the registry and the claims, retrying
// while JetStream elects its leaders.
func (n *Node) openBuckets(ctx context.Context) error {
	cfgs := n.bucketConfigs()
	var err error
	if n.nodes, err = n.bucket(ctx, cfgs[0]); err != nil {
		return err
	}
	n.claims, err = n.bucket(ctx, cfgs[1])
	return err
}

func (n *Node) bucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	reps := n.opts.replicas()
	var last error
	for {
		cfg.Replicas = reps
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		kv, err := n.js.CreateOrUpdateKeyValue(cctx, cfg)
		cancel()
		if err == nil {
			return kv, nil
		}
		last = err
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) || errors.Is(err, jetstream.ErrKeyValueConfigRequired) {
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
		if n.ns == nil && reps > 1 && isInsufficient(err) {
			reps = 1 // an external cluster smaller than three
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bucket %s: JetStream not ready: %w (last error: %v)", cfg.Bucket, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func isInsufficient(err error) bool {
	// JSInsufficientResourcesErr, JSClusterNoPeersErr: fewer peers than
	// replicas; JSStreamReplicasNotSupportedErr: a single server.
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case 10023, 10005, 10074:
		return true
	}
	return false
}

// markLost reports the loss of the cluster once per loss (never while
// stopping). The node rejoins only once OnLost has returned: its clients
// are gone by then, so nothing it held can outlive the old incarnation.
func (n *Node) markLost(reason string) {
	if n.stopping.Load() || n.nc == nil || !n.phase.CompareAndSwap(int32(PhaseUp), int32(PhaseLost)) {
		return
	}
	n.stats.Lost.Add(1)
	n.opts.Logger.Error("cluster lost: going not-ready", "node", n.opts.NodeID, "reason", reason)
	if !n.track() {
		return
	}
	go func() {
		defer n.wg.Done()
		n.opts.OnLost(reason)
		n.phase.CompareAndSwap(int32(PhaseLost), int32(PhaseRejoining))
	}()
}

// Go runs fn on its own goroutine unless MaxInFlight are running (false:
// answer server_busy). Event loops use it for anything that waits on NATS.
func (n *Node) Go(fn func()) bool {
	select {
	case n.sem <- struct{}{}:
	default:
		n.stats.Busy.Add(1)
		return false
	}
	if !n.track() {
		<-n.sem
		return false
	}
	go func() {
		defer func() { <-n.sem; n.wg.Done() }()
		fn()
	}()
	return true
}

// track counts one more goroutine for Stop to wait for, unless Stop has
// begun waiting (false: do not start it). NATS callbacks and event loops
// start work right up to the end; a WaitGroup must not be added to while
// Stop waits on it.
func (n *Node) track() bool {
	n.trackMu.Lock()
	defer n.trackMu.Unlock()
	if n.untracked {
		return false
	}
	n.wg.Add(1)
	return true
}

// stopTracking makes track refuse from now on.
func (n *Node) stopTracking() {
	n.trackMu.Lock()
	n.untracked = true
	n.trackMu.Unlock()
}

// reqCtx is the deadline of one cross-node operation.
func (n *Node) reqCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), n.opts.RequestTimeout)
}

// stopGrace is how long Stop lets work in flight (releases) finish.
const stopGrace = 5 * time.Second

// Stop says goodbye (deletes the record, so the others react at once),
// stops the goroutines and closes the connection and the embedded server.
func (n *Node) Stop() {
	n.stopping.Store(true)
	if n.nodes != nil && !n.Lost() {
		ctx, cancel := n.reqCtx()
		_ = n.nodes.Delete(ctx, n.opts.NodeID)
		cancel()
	}
	if n.cancel != nil {
		n.cancel()
	}
	// Releases of the clients just closed get a while to land (the others
	// then need not wait for the sweep), not their whole deadline.
	cut := time.AfterFunc(stopGrace, n.endLife)
	n.out.close()
	n.stopTracking()
	n.wg.Wait()
	cut.Stop()
	n.endLife()
	n.watch.stop()
	if n.nc != nil && !n.Lost() {
		_ = n.nc.FlushTimeout(n.opts.RequestTimeout) // the last events out
	}
	n.cleanupConn()
}

func (n *Node) cleanupConn() {
	n.stopping.Store(true)
	if n.nc != nil {
		n.nc.Close()
	}
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
	if n.tmpDir != "" {
		_ = os.RemoveAll(n.tmpDir)
	}
}
