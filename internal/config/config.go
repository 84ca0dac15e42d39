package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"
)

// Named defaults. They are the limits of docs/PROTOCOL.md unless noted.
const (
	DefaultHTTPAddr         = ":8080"
	DefaultAdminAddr        = "127.0.0.1:9090"
	DefaultTokenTTL         = 24 * time.Hour
	DefaultMaxFrameBytes    = 64 << 10
	DefaultMaxBodyBytes     = 4 << 10
	DefaultMaxBacklogBytes  = 1 << 20
	DefaultCommandRate      = 20
	DefaultCommandBurst     = 40
	DefaultAbuseRejects     = 100
	DefaultAbuseWindow      = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxHeaderBytes   = 8 << 10
	DefaultPingInterval     = 25 * time.Second
	DefaultPongTimeout      = 10 * time.Second
	DefaultDrainTimeout     = 10 * time.Second
	// DefaultFrameTimeout bounds how long one WebSocket frame may take to
	// arrive once its first byte did (a frame trickled byte by byte pins
	// its buffer and must not count as liveness).
	DefaultFrameTimeout = 10 * time.Second
	// DefaultHTTPLifetime is the longest a socket may stay open without
	// upgrading to a WebSocket, however busy its keep-alive: the idle
	// deadline (-handshake-timeout) restarts after each response, this one
	// does not.
	DefaultHTTPLifetime = time.Minute
	// DefaultMaxRequestsPerConn: a keep-alive socket's last request after
	// this many is answered with Connection: close.
	DefaultMaxRequestsPerConn = 100
	// DefaultLoopQueue bounds the deliveries waiting for one event loop;
	// past it the connections whose frames do not fit are closed 4008
	// (they would otherwise see a gap) instead of the queue growing.
	DefaultLoopQueue = 1 << 20
	// DefaultShardInbox is how many queued operations a shard accepts from
	// clients before it answers "server_busy" instead of queueing more.
	DefaultShardInbox = 1 << 16
	// DefaultMaxHTTPBody bounds request bodies of the plain HTTP routes.
	DefaultMaxHTTPBody = 64 << 10
	// DefaultAuthRate and DefaultAuthBurst bound POST /auth per client
	// address (IPv6 per /64): a person needs one per session, an office
	// behind one NAT a few a minute; a burst of 30 covers a page of reloads.
	// Load tests stay under it because cmd/loadgen spreads its clients over
	// 127.0.0.0/8 (16 per source address).
	DefaultAuthRate  = 5
	DefaultAuthBurst = 30
	// DefaultClaimTTL is how long a nickname claimed by /auth stays held if
	// its token is not used at /ws (the token itself stays valid and
	// reclaims the name later if it is free).
	DefaultClaimTTL = time.Minute
	// DefaultMaxClaimsPerIP and DefaultMaxClaims bound claims not yet used
	// at /ws, per client address (IPv6 per /64) and in total, so nobody can
	// squat the name space: past them /auth answers 429 too_many_claims.
	DefaultMaxClaimsPerIP = 32
	DefaultMaxClaims      = 100_000
	// DefaultPresenceMax is the room size above which joined/left events go
	// only to the member concerned: announcing every arrival to N members
	// costs N deliveries, so presence in huge rooms would grow as N².
	DefaultPresenceMax = 100
	// DefaultFlushInterval is the write-coalescing window of an event loop:
	// a loop that wrote less than this long ago waits out the rest before
	// writing again, so under load each connection gets one write per window
	// carrying every frame that arrived meanwhile. At low load (no write in
	// the last window) frames go out at once.
	DefaultFlushInterval = 10 * time.Millisecond
	// DefaultFlushMax is the latency budget the coalescing window may grow
	// to when a loop is busy (the window follows its measured busy time).
	DefaultFlushMax = 25 * time.Millisecond
	// DefaultMaxHTTPInFlight bounds concurrent plain HTTP handlers.
	DefaultMaxHTTPInFlight = 512
	// DefaultHistorySize is how many recent messages each room keeps for
	// `history` (PROTOCOL.md v1.1); DefaultHistoryTTL is the oldest it
	// keeps, and DefaultHistoryMaxBytes bounds all rooms together.
	DefaultHistorySize     = 100
	DefaultHistoryTTL      = 10 * time.Minute
	DefaultHistoryMaxBytes = 64 << 20
	// MaxHistorySize bounds -history-size: the ring is per room, so the
	// total is bounded by -history-max-bytes anyway; this catches typos.
	MaxHistorySize = 1 << 20
	// DefaultFDReserve is how many file descriptors the automatic socket
	// budget leaves free below RLIMIT_NOFILE (at most a quarter of it) for
	// the admin API, metrics, NATS, files and the event loops' pollers.
	DefaultFDReserve = 256
	// DefaultMaxConnsPerIP caps the sockets (HTTP and WebSocket) one client
	// address holds, an IPv6 client counted by its /64. 256 leaves room for
	// an office or a carrier NAT behind one address, while one attacker
	// address cannot take more than a sliver of the socket budget. Load
	// tests stay under it because cmd/loadgen spreads its clients over
	// 127.0.0.0/8 (16 per source address by default).
	DefaultMaxConnsPerIP = 256
)

// Config is every setting of one server. The zero value is not usable; start
// from Default().
type Config struct {
	HTTPAddr       string        // WebSocket + HTTP listen address
	AdminAddr      string        // gRPC admin listen address ("" disables it)
	AdminToken     string        // bearer token required by admin RPCs when set
	AdminTokenFile string        // file holding AdminToken (read by Resolve)
	AdminInsecure  bool          // allow a non-loopback admin address without a token
	Shards         int           // room shards (goroutines)
	Loops          int           // gnet event loops
	JWTKey         string        // HS256 key; random when empty
	JWTKeyFile     string        // file holding JWTKey (read by Resolve)
	TokenTTL       time.Duration // lifetime of issued tokens
	AllowedOrigins []string      // extra allowed Origin values for /ws ("*" allows all)

	MaxFrameBytes    int           // inbound frame/message size; close 1009 past it
	MaxBodyBytes     int           // message body size; error body_too_long past it
	MaxBacklogBytes  int           // outbound backlog per connection; close 4008 past it
	CommandRate      float64       // sustained commands per second per connection
	CommandBurst     int           // command burst per connection
	AbuseRejects     int           // rejected commands within AbuseWindow before close 4029
	AbuseWindow      time.Duration //
	HandshakeTimeout time.Duration // time to send complete request headers
	MaxHeaderBytes   int           // request header size limit
	PingInterval     time.Duration // idle time before the server pings
	PongTimeout      time.Duration // time after a ping without any frame before close
	DrainTimeout     time.Duration // bound on graceful shutdown
	FrameTimeout     time.Duration // time a started WebSocket frame has to complete; close 4000 past it
	HTTPLifetime     time.Duration // longest life of a socket that has not upgraded
	MaxReqsPerConn   int           // requests per keep-alive socket; the last is answered Connection: close
	LoopQueue        int           // deliveries queued per event loop before the overflowing connections are closed 4008
	MaxConns         int           // 0 = unlimited; past it /ws answers 503
	MaxSockets       int           // client sockets open at once (0 = RLIMIT_NOFILE less a reserve); past it a new socket gets 503 and is closed
	MaxConnsPerIP    int           // sockets per client address (IPv6 per /64), 0 = unlimited
	ShardInbox       int           // per-shard queued client operations before server_busy
	PresenceMax      int           // rooms larger than this announce joined/left only to the member concerned
	FlushInterval    time.Duration // write-coalescing window per event loop (0 = write at once)
	FlushMax         time.Duration // the most the window grows to on a busy loop (<= FlushInterval: fixed)
	MaxHTTPBody      int           // plain HTTP request body limit
	MaxHTTPInFlight  int           // concurrent plain HTTP handlers
	AuthRate         float64       // POST /auth per second per client IP
	AuthBurst        int           //
	HistorySize      int           // messages kept per room for `history` (0 = off; seq still counts)
	HistoryTTL       time.Duration // oldest message kept
	HistoryMaxBytes  int64         // bytes of kept messages, whole server (split evenly over the shards)
	ClaimTTL         time.Duration // an unused /auth claim is released after this
	MaxClaimsPerIP   int           // unused claims per client address (IPv6 per /64), 0 = unlimited
	MaxClaims        int           // unused claims in total, 0 = unlimited

	LogJSON   bool
	LogLevel  string
	PprofAddr string // net/http/pprof listen address ("" disables it)
	// MetricsAddr serves /metrics (and the probes) on a listener of its
	// own; the chat port then has no /metrics. "" serves it on -http.
	MetricsAddr string

	// Cluster (see internal/cluster). All empty: a single node with no NATS.
	NodeID        string   // unique per node; default the host name
	ClusterListen string   // embedded NATS route listener HOST:PORT ("" = no embedded cluster)
	ClusterPeers  []string // route URLs of the nodes (nats://host:port), may include this node's own
	NATSListen    string   // expose the embedded NATS client port here ("" = in-process only)
	NATSURLs      []string // join an existing NATS cluster instead of embedding one
}

// Clustered reports whether the node takes part in a cluster.
func (c *Config) Clustered() bool { return c.ClusterListen != "" || len(c.NATSURLs) > 0 }

// Default returns the documented defaults.
func Default() Config {
	n := runtime.GOMAXPROCS(0)
	return Config{
		HTTPAddr:         DefaultHTTPAddr,
		AdminAddr:        DefaultAdminAddr,
		Shards:           n,
		Loops:            n,
		TokenTTL:         DefaultTokenTTL,
		MaxFrameBytes:    DefaultMaxFrameBytes,
		MaxBodyBytes:     DefaultMaxBodyBytes,
		MaxBacklogBytes:  DefaultMaxBacklogBytes,
		CommandRate:      DefaultCommandRate,
		CommandBurst:     DefaultCommandBurst,
		AbuseRejects:     DefaultAbuseRejects,
		AbuseWindow:      DefaultAbuseWindow,
		HandshakeTimeout: DefaultHandshakeTimeout,
		MaxHeaderBytes:   DefaultMaxHeaderBytes,
		PingInterval:     DefaultPingInterval,
		PongTimeout:      DefaultPongTimeout,
		DrainTimeout:     DefaultDrainTimeout,
		FrameTimeout:     DefaultFrameTimeout,
		HTTPLifetime:     DefaultHTTPLifetime,
		MaxReqsPerConn:   DefaultMaxRequestsPerConn,
		LoopQueue:        DefaultLoopQueue,
		ShardInbox:       DefaultShardInbox,
		PresenceMax:      DefaultPresenceMax,
		FlushInterval:    DefaultFlushInterval,
		FlushMax:         DefaultFlushMax,
		MaxHTTPBody:      DefaultMaxHTTPBody,
		MaxHTTPInFlight:  DefaultMaxHTTPInFlight,
		MaxConnsPerIP:    DefaultMaxConnsPerIP,
		AuthRate:         DefaultAuthRate,
		AuthBurst:        DefaultAuthBurst,
		HistorySize:      DefaultHistorySize,
		HistoryTTL:       DefaultHistoryTTL,
		HistoryMaxBytes:  DefaultHistoryMaxBytes,
		ClaimTTL:         DefaultClaimTTL,
		MaxClaimsPerIP:   DefaultMaxClaimsPerIP,
		MaxClaims:        DefaultMaxClaims,
		LogLevel:         "info",
		NodeID:           hostname(),
	}
}

// hostname is the default node id: the host name, or "node" when unknown.
func hostname() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "node"
}

// Validate reports every setting that cannot work (joined into one error).
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.HTTPAddr != "", "-http must not be empty")
	check(c.JWTKey == "" || len(c.JWTKey) >= MinJWTKeyBytes, "-jwt-key is %d bytes; an HS256 key needs at least %d bytes (e.g. head -c 32 /dev/urandom | base64)", len(c.JWTKey), MinJWTKeyBytes)
	check(c.JWTKeyFile == "" || c.JWTKey != "", "-jwt-key-file %s was not read (Resolve not called)", c.JWTKeyFile)
	check(c.Shards > 0, "-shards must be > 0, got %d", c.Shards)
	check(c.Loops > 0, "-loops must be > 0, got %d", c.Loops)
	check(c.TokenTTL > 0, "-token-ttl must be > 0, got %s", c.TokenTTL)
	check(c.MaxFrameBytes >= 125, "-max-frame must be >= 125, got %d", c.MaxFrameBytes)
	check(c.MaxBodyBytes > 0 && c.MaxBodyBytes <= c.MaxFrameBytes, "-max-body must be in (0, max-frame], got %d", c.MaxBodyBytes)
	check(c.MaxBacklogBytes > 0, "-max-backlog must be > 0, got %d", c.MaxBacklogBytes)
	check(c.CommandRate > 0, "-cmd-rate must be > 0, got %v", c.CommandRate)
	check(c.CommandBurst > 0, "-cmd-burst must be > 0, got %d", c.CommandBurst)
	check(c.AbuseRejects > 0, "-abuse-rejects must be > 0, got %d", c.AbuseRejects)
	check(c.AbuseWindow > 0, "-abuse-window must be > 0, got %s", c.AbuseWindow)
	check(c.HandshakeTimeout > 0, "-handshake-timeout must be > 0, got %s", c.HandshakeTimeout)
	check(c.MaxHeaderBytes >= 512, "-max-header must be >= 512, got %d", c.MaxHeaderBytes)
	check(c.PingInterval > 0, "-ping-interval must be > 0, got %s", c.PingInterval)
	check(c.PongTimeout > 0, "-pong-timeout must be > 0, got %s", c.PongTimeout)
	check(c.DrainTimeout > 0, "-drain-timeout must be > 0, got %s", c.DrainTimeout)
	check(c.FrameTimeout > 0, "-frame-timeout must be > 0, got %s", c.FrameTimeout)
	check(c.HTTPLifetime > 0, "-http-lifetime must be > 0, got %s", c.HTTPLifetime)
	check(c.MaxReqsPerConn > 0 && c.MaxReqsPerConn <= 65535, "-max-requests-per-conn must be in [1, 65535], got %d", c.MaxReqsPerConn)
	check(c.LoopQueue > 0, "-loop-queue must be > 0, got %d", c.LoopQueue)
	check(c.MaxConns >= 0, "-max-conns must be >= 0, got %d", c.MaxConns)
	check(c.MaxSockets >= 0, "-max-sockets must be >= 0, got %d", c.MaxSockets)
	check(c.MaxConnsPerIP >= 0, "-max-conns-per-ip must be >= 0, got %d", c.MaxConnsPerIP)
	check(c.FlushInterval >= 0 && c.FlushInterval <= time.Second, "-flush-interval must be in [0, 1s], got %s", c.FlushInterval)
	check(c.FlushMax >= 0 && c.FlushMax <= time.Second, "-flush-max must be in [0, 1s], got %s", c.FlushMax)
	check(c.PresenceMax >= 0, "-presence-max must be >= 0, got %d", c.PresenceMax)
	check(c.ShardInbox > 0, "-shard-inbox must be > 0, got %d", c.ShardInbox)
	check(c.MaxHTTPInFlight > 0, "-http-inflight must be > 0, got %d", c.MaxHTTPInFlight)
	check(c.AuthRate > 0 && c.AuthBurst > 0, "-auth-rate and -auth-burst must be > 0, got %v/%d", c.AuthRate, c.AuthBurst)
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	check(c.HistorySize >= 0 && c.HistorySize <= MaxHistorySize, "-history-size must be in [0, %d], got %d", MaxHistorySize, c.HistorySize)
	check(c.HistoryTTL > 0, "-history-ttl must be > 0, got %s", c.HistoryTTL)
	check(c.HistoryMaxBytes > 0, "-history-max-bytes must be > 0, got %d", c.HistoryMaxBytes)
	check(c.ClaimTTL > 0, "-claim-ttl must be > 0, got %s", c.ClaimTTL)
	check(c.MaxClaimsPerIP >= 0 && c.MaxClaims >= 0, "-max-claims-per-ip and -max-claims must be >= 0, got %d/%d", c.MaxClaimsPerIP, c.MaxClaims)
	check(c.NodeID != "", "-node-id must not be empty")
	check(!(c.ClusterListen != "" && len(c.NATSURLs) > 0), "-cluster-listen and -nats-url exclude each other: embed a NATS server or join one, got both")
	check(c.NATSListen == "" || c.ClusterListen != "", "-nats-listen %q needs -cluster-listen (it exposes the embedded server)", c.NATSListen)
	check(len(c.ClusterPeers) == 0 || c.ClusterListen != "", "-cluster-peers needs -cluster-listen")
	return errors.Join(errs...)
}

// RegisterFlags binds every setting to a flag on fs, with c's current values
// as defaults. Call ApplyEnv after fs.Parse to honour ICS_* variables.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.HTTPAddr, "http", c.HTTPAddr, "listen address for WebSocket, the browser client, /auth, health and metrics")
	fs.StringVar(&c.AdminAddr, "admin", c.AdminAddr, "listen address of the gRPC admin API (empty disables it)")
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "bearer token required by admin RPCs (health excepted). Prefer -admin-token-file: a flag value shows in /proc/PID/cmdline")
	fs.BoolVar(&c.AdminInsecure, "admin-insecure", c.AdminInsecure, "allow a non-loopback -admin address without -admin-token")
	fs.IntVar(&c.Shards, "shards", c.Shards, "room shards: goroutines that own the rooms (default GOMAXPROCS)")
	fs.IntVar(&c.Loops, "loops", c.Loops, "network event loops (default GOMAXPROCS)")
	fs.StringVar(&c.JWTKey, "jwt-key", c.JWTKey, "HS256 key for tokens, at least 32 bytes; a random key is generated (and tokens die with the process) when empty. Prefer -jwt-key-file: a flag value shows in /proc/PID/cmdline")
	c.registerSecretFlags(fs)
	fs.DurationVar(&c.TokenTTL, "token-ttl", c.TokenTTL, "lifetime of issued tokens")
	fs.Func("allowed-origins", "comma-separated Origin values allowed on /ws besides the server's own host (\"*\" allows any)", listFlag(&c.AllowedOrigins))
	fs.IntVar(&c.MaxFrameBytes, "max-frame", c.MaxFrameBytes, "largest inbound WebSocket message in bytes (close 1009 past it)")
	fs.IntVar(&c.MaxBodyBytes, "max-body", c.MaxBodyBytes, "largest message body in bytes (error body_too_long past it)")
	fs.IntVar(&c.MaxBacklogBytes, "max-backlog", c.MaxBacklogBytes, "outbound bytes queued per connection before close 4008 slow consumer")
	fs.Float64Var(&c.CommandRate, "cmd-rate", c.CommandRate, "sustained commands per second per connection")
	fs.IntVar(&c.CommandBurst, "cmd-burst", c.CommandBurst, "command burst per connection")
	fs.IntVar(&c.AbuseRejects, "abuse-rejects", c.AbuseRejects, "rate-limited commands within -abuse-window before close 4029")
	fs.DurationVar(&c.AbuseWindow, "abuse-window", c.AbuseWindow, "window for -abuse-rejects")
	fs.DurationVar(&c.HandshakeTimeout, "handshake-timeout", c.HandshakeTimeout, "time a client has to send complete request headers")
	fs.IntVar(&c.MaxHeaderBytes, "max-header", c.MaxHeaderBytes, "largest request header block in bytes")
	fs.DurationVar(&c.PingInterval, "ping-interval", c.PingInterval, "idle time after which the server pings a client")
	fs.DurationVar(&c.PongTimeout, "pong-timeout", c.PongTimeout, "time after a ping without any frame before the connection is closed")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "bound on graceful shutdown (SIGINT/SIGTERM)")
	fs.DurationVar(&c.FrameTimeout, "frame-timeout", c.FrameTimeout, "time a WebSocket frame has to arrive completely once started (close 4000 past it)")
	fs.DurationVar(&c.HTTPLifetime, "http-lifetime", c.HTTPLifetime, "longest life of a socket that has not upgraded to a WebSocket, keep-alive or not")
	fs.IntVar(&c.MaxReqsPerConn, "max-requests-per-conn", c.MaxReqsPerConn, "HTTP requests per keep-alive socket; the last one is answered with Connection: close")
	fs.IntVar(&c.LoopQueue, "loop-queue", c.LoopQueue, "deliveries queued per event loop before connections whose frames do not fit are closed 4008")
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "WebSocket connections accepted before /ws answers 503 (0 = unlimited)")
	fs.IntVar(&c.MaxSockets, "max-sockets", c.MaxSockets, "client sockets open at once before new ones get 503 and are closed (0 = the open-files limit less a reserve of min(256, limit/4))")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "sockets one client address may hold, IPv6 counted per /64 (0 = unlimited)")
	fs.IntVar(&c.ShardInbox, "shard-inbox", c.ShardInbox, "queued client operations per shard before commands get server_busy")
	fs.DurationVar(&c.FlushInterval, "flush-interval", c.FlushInterval, "write-coalescing window: under load an event loop writes each connection at most once per window (0 = write at once; adds at most this much latency)")
	fs.DurationVar(&c.FlushMax, "flush-max", c.FlushMax, "latency budget of the write-coalescing window: a busy event loop widens its window up to this, following its measured busy time (<= -flush-interval: fixed window)")
	fs.IntVar(&c.PresenceMax, "presence-max", c.PresenceMax, "rooms with more members than this announce joined/left only to the member concerned (0 = always announce)")
	fs.IntVar(&c.MaxHTTPBody, "max-http-body", c.MaxHTTPBody, "largest plain HTTP request body in bytes")
	fs.IntVar(&c.MaxHTTPInFlight, "http-inflight", c.MaxHTTPInFlight, "concurrent plain HTTP requests before 503")
	fs.IntVar(&c.HistorySize, "history-size", c.HistorySize, "recent messages each room keeps for the history command (0 = none; seq still counts)")
	fs.DurationVar(&c.HistoryTTL, "history-ttl", c.HistoryTTL, "age after which a kept message is dropped")
	fs.Int64Var(&c.HistoryMaxBytes, "history-max-bytes", c.HistoryMaxBytes, "bytes of kept messages on the whole server (each shard holds an equal share; its oldest go first)")
	fs.Float64Var(&c.AuthRate, "auth-rate", c.AuthRate, "POST /auth per second per client address, IPv6 per /64 (429 past it)")
	fs.IntVar(&c.AuthBurst, "auth-burst", c.AuthBurst, "POST /auth burst per client address")
	fs.DurationVar(&c.ClaimTTL, "claim-ttl", c.ClaimTTL, "how long a nickname claimed by /auth stays held if its token is not used at /ws")
	fs.IntVar(&c.MaxClaimsPerIP, "max-claims-per-ip", c.MaxClaimsPerIP, "nickname claims not yet used at /ws per client address, IPv6 per /64 (429 past it; 0 = unlimited)")
	fs.IntVar(&c.MaxClaims, "max-claims", c.MaxClaims, "nickname claims not yet used at /ws in total (429 past it; 0 = unlimited)")
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "this node's name in a cluster, unique per node (default the host name)")
	fs.StringVar(&c.ClusterListen, "cluster-listen", c.ClusterListen, "run the embedded NATS server (JetStream on) with its cluster route listener on HOST:PORT")
	fs.Func("cluster-peers", "comma-separated route URLs of the cluster's nodes (nats://host:6222,...; may include this node's own)", listFlag(&c.ClusterPeers))
	fs.StringVar(&c.NATSListen, "nats-listen", c.NATSListen, "expose the embedded NATS server's client port on HOST:PORT (default: in-process connection only)")
	fs.Func("nats-url", "comma-separated URLs of an existing NATS cluster (JetStream enabled) to join instead of embedding one", listFlag(&c.NATSURLs))
	fs.StringVar(&c.MetricsAddr, "metrics-listen", c.MetricsAddr, "serve /metrics (and /healthz, /readyz) on this address instead of the public -http port, e.g. 127.0.0.1:9100")
	fs.StringVar(&c.PprofAddr, "pprof", c.PprofAddr, "listen address for net/http/pprof profiles, e.g. 127.0.0.1:6060 (empty disables it)")
	fs.BoolVar(&c.LogJSON, "log-json", c.LogJSON, "log JSON lines instead of text")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn, error")
}

// listFlag parses a comma-separated list into *dst, dropping empty items.
func listFlag(dst *[]string) func(string) error {
	return func(s string) error {
		*dst = nil
		for _, o := range strings.Split(s, ",") {
			if o = strings.TrimSpace(o); o != "" {
				*dst = append(*dst, o)
			}
		}
		return nil
	}
}

// EnvName is the environment variable that stands for flag name.
func EnvName(flagName string) string {
	return "ICS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets every flag of fs that was not given on the command line from
// its ICS_* environment variable, if present. lookup is usually os.LookupEnv.
func ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// ClientEnv are ICS_* variables that are not server flags but are read by
// other parts of the project (the admin CLI, the browser tests), so a shell
// that sets them can still start the server.
var ClientEnv = []string{"ICS_ADMIN_ADDR", "ICS_REQUIRE_BROWSER", "ICS_CHROMIUM", "ICS_REQUIRE_DOCKER", "ICS_DOCKER"}

// CheckEnv refuses ICS_* variables in environ (os.Environ's form) that
// name no flag of fs: a typo such as ICS_JWTKEY would otherwise be ignored
// and the server would start with a random key. The error names each
// variable and, when there is one, the flag variable it probably meant. It
// never prints the value (it may be a secret).
func CheckEnv(fs *flag.FlagSet, environ []string) error {
	known := map[string]bool{}
	for _, n := range ClientEnv {
		known[n] = true
	}
	fs.VisitAll(func(f *flag.Flag) { known[EnvName(f.Name)] = true })
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "ICS_") || known[name] {
			continue
		}
		msg := fmt.Sprintf("unknown environment variable %s: no server flag reads it", name)
		if guess := closestEnv(name, known); guess != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", guess)
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// closestEnv is the known name equal to name once underscores are dropped
// and case ignored, or "".
func closestEnv(name string, known map[string]bool) string {
	squash := func(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "_", "")) }
	for k := range known {
		if squash(k) == squash(name) {
			return k
		}
	}
	return ""
}

// LogLevels are the values -log-level accepts.
var LogLevels = []string{"debug", "info", "warn", "error"}

// ParseLogLevel turns a -log-level value into a slog level, refusing
// anything but LogLevels (any case).
func ParseLogLevel(s string) (slog.Level, error) {
	var lvl slog.Level
	for _, l := range LogLevels {
		if strings.EqualFold(s, l) {
			err := lvl.UnmarshalText([]byte(l))
			return lvl, err
		}
	}
	return lvl, fmt.Errorf("-log-level %q: want one of %s", s, strings.Join(LogLevels, ", "))
}
