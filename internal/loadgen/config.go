package loadgen

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// DefaultConnsPerSourceIP is how many connections share one loopback source
// address by default: few enough to stay under a server's per-address
// limits, and 16M addresses in 127.0.0.0/8 leave room for any run.
const DefaultConnsPerSourceIP = 16

// CompatSeed selects the original ICS server dialect: the nickname as a form
// field to /auth, the raw token as Sec-WebSocket-Protocol, args.from on
// messages and no membership events to wait for.
const CompatSeed = "seed"

// Config is every setting of a run. Use DefaultConfig and override fields.
// It holds settings only: where the command line writes reports and how
// it shows progress are its own (cli.go), and nothing here is rewritten
// by Validate or a run (the dial targets are derived: see target).
type Config struct {
	Addr string `json:"addr"` // server host:port
	// URLs are the nodes of a cluster (host:port, http:// or ws:// URLs):
	// connection i goes to URLs[i % len]. They override Addr: /auth and
	// the probes go to the first one.
	URLs        []string      `json:"urls,omitempty"`
	AllowRemote bool          `json:"allow_remote"` // permit a non-loopback Addr
	Conns       int           `json:"conns"`        // connections (fanout, connect, churn, abuse)
	Rooms       int           `json:"rooms"`        // rooms the connections are spread over
	Publishers  int           `json:"publishers"`   // publishers per room
	Rate        float64       `json:"rate"`         // messages/s per publisher (connect: connections/s)
	Size        int           `json:"size"`         // message body bytes
	Duration    time.Duration `json:"duration"`     // publish (or hold) time, warmup included
	Warmup      time.Duration `json:"warmup"`       // leading part of Duration excluded from latency
	Drain       time.Duration `json:"drain"`        // how long to wait for in-flight messages after publishing stops
	Settle      time.Duration `json:"settle"`       // at most this long to wait for membership events to drain before publishing
	MaxP99      time.Duration `json:"max_p99"`      // fail (sweep: stop) when p99 exceeds it; 0 = off
	MinRate     float64       `json:"min_rate"`     // fail when deliveries/s is below it; 0 = off
	ConnectRate float64       `json:"connect_rate"` // new connections/s while setting up a fanout
	// AdminAddr is the server's gRPC admin API: kick_evasion kicks
	// through it, and the command line prints the server's per-shard
	// stats from it after the run.
	AdminAddr  string `json:"-"`
	AdminToken string `json:"-"`          // bearer token for AdminAddr
	ServerPID  int    `json:"server_pid"` // server process to sample in /proc; 0 = try /metrics
	Compat     string `json:"compat"`     // "", CompatSeed or CompatCentrifugo
	Prefix     string `json:"prefix"`     // nickname and room prefix, unique per generator process
	Loops      int    `json:"loops"`      // gnet event loops; 0 = one per CPU
	// ConnsPerSourceIP moves to the next 127.x.y.z source address after this
	// many connections: ephemeral ports do not run out, and a server's
	// per-address limits (ICS: -max-conns-per-ip 256, /auth 5/s burst 30,
	// 32 unused claims) see many small clients, as in production.
	ConnsPerSourceIP int `json:"conns_per_source_ip"`
	// ConnOffset shifts this process's connection slots when several
	// generator processes share a machine (give each its own range, e.g.
	// 0, 20000, 40000…) so their source addresses do not overlap.
	ConnOffset int `json:"conn_offset"`
	// Sweep: offered load is multiplied by Step per step, at most MaxSteps steps.
	Step     float64 `json:"step"`
	MaxSteps int     `json:"max_steps"`
	// Churn: reconnect cycles per second while the fanout runs.
	ChurnRate float64 `json:"churn_rate"`
	// Scenarios selects abuse scenarios by name, comma-separated; "" = all.
	Scenarios string `json:"scenarios,omitempty"`
	// AbuseSockets is how many idle sockets fd_exhaustion opens.
	AbuseSockets int `json:"abuse_sockets,omitempty"`
}

// DefaultConfig returns the defaults the command line starts from.
func DefaultConfig() Config {
	return Config{
		Addr:             "127.0.0.1:8080",
		Conns:            100,
		Rooms:            1,
		Publishers:       1,
		Rate:             10,
		Size:             100,
		Duration:         10 * time.Second,
		Warmup:           2 * time.Second,
		Drain:            5 * time.Second,
		Settle:           60 * time.Second,
		ConnectRate:      2000,
		Prefix:           fmt.Sprintf("lg%d", os.Getpid()%100000),
		ConnsPerSourceIP: DefaultConnsPerSourceIP,
		Step:             1.5,
		MaxSteps:         12,
		ChurnRate:        20,
	}
}

// errHelp marks an explicit -h.
var errHelp = errors.New("help requested")

// ErrUsage marks configuration errors (exit status 2 on the command line).
var ErrUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// Validate checks c for mode and changes nothing. Errors wrap ErrUsage.
func (c *Config) Validate(mode string) error {
	if _, err := c.target(); err != nil {
		return err
	}
	if c.ConnOffset < 0 {
		return usageErr("-conn-offset %d: must not be negative", c.ConnOffset)
	}
	if c.Compat != "" && c.Compat != CompatSeed && c.Compat != CompatCentrifugo {
		return usageErr("-compat %q: only %q and %q are known", c.Compat, CompatSeed, CompatCentrifugo)
	}
	switch {
	case c.Conns < 1:
		return usageErr("-conns %d: need at least 1", c.Conns)
	case c.Duration <= 0:
		return usageErr("-duration %v: must be positive", c.Duration)
	case c.Warmup < 0 || c.Warmup >= c.Duration:
		return usageErr("-warmup %v: must be in [0, -duration %v)", c.Warmup, c.Duration)
	case c.Rate <= 0:
		return usageErr("-rate %v: must be positive", c.Rate)
	case c.ConnectRate <= 0:
		return usageErr("-connect-rate %v: must be positive", c.ConnectRate)
	case !nameOK(c.Prefix + "_x"):
		return usageErr("-prefix %q: nicknames must match ^[A-Za-z_][A-Za-z0-9_-]{1,31}$", c.Prefix)
	}
	if mode == "fanout" || mode == "sweep" || mode == "churn" {
		switch {
		case c.Rooms < 1 || c.Rooms > c.Conns:
			return usageErr("-rooms %d: must be in [1, -conns %d]", c.Rooms, c.Conns)
		case c.Publishers < 1 || c.Publishers*c.Rooms > c.Conns:
			return usageErr("-publishers %d per room × -rooms %d exceeds -conns %d", c.Publishers, c.Rooms, c.Conns)
		case c.Size < 0 || c.Size > 60<<10:
			return usageErr("-size %d: must be in [0, 61440]", c.Size)
		}
	}
	if mode == "connect" && (c.Rooms < 1 || c.Rooms > c.Conns) {
		return usageErr("-rooms %d: must be in [1, -conns %d]", c.Rooms, c.Conns)
	}
	if mode == "sweep" && (c.Step <= 1 || c.MaxSteps < 1) {
		return usageErr("-step %v / -max-steps %d: need step > 1 and at least one step", c.Step, c.MaxSteps)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && ip.To4()[0] == 127
}

func nameOK(s string) bool {
	if len(s) < 2 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if i == 0 && !alpha {
			return false
		}
		if !alpha && !(c >= '0' && c <= '9') && c != '-' {
			return false
		}
	}
	return true
}

// nick is the nickname of connection i.
func (c *Config) nick(i int) string { return fmt.Sprintf("%s_%d", c.Prefix, i) }

// roomName is the name of room r; with one room it is the room every
// connection starts in (command.GlobalRoom).
func (c *Config) roomName(r int) string {
	if c.Rooms == 1 {
		return command.GlobalRoom
	}
	return fmt.Sprintf("%s_r%d", c.Prefix, r)
}

// target is where a run's connections go, derived from Config's Addr
// and URLs each time it is needed and never written back into them.
type target struct {
	nodes    []string // host:port of every node; /auth and probes go to nodes[0]
	loopback bool     // every node is in 127.0.0.0/8: source addresses can be spread over it
}

// target resolves URLs (or, without them, Addr) into host:port nodes,
// each loopback unless AllowRemote. Errors wrap ErrUsage.
func (c *Config) target() (target, error) {
	flagName, raw := "-url", c.URLs
	if len(raw) == 0 {
		flagName, raw = "-addr", []string{c.Addr}
	}
	t := target{nodes: make([]string, len(raw)), loopback: true}
	for i, r := range raw {
		n := normalizeNode(r)
		host, port, err := net.SplitHostPort(n)
		switch {
		case err != nil && flagName == "-addr":
			return target{}, usageErr("-addr %q: %v", r, err)
		case flagName == "-addr" && port == "":
			return target{}, usageErr("-addr %q: missing port", r)
		case err != nil || port == "":
			return target{}, usageErr("-url %q: want host:port or http://host:port", r)
		case !isLoopback(host) && !c.AllowRemote:
			return target{}, usageErr("%s %q is not a loopback address (127.0.0.0/8); pass -allow-remote to load it anyway", flagName, r)
		}
		t.nodes[i], t.loopback = n, t.loopback && isLoopback(host)
	}
	return t, nil
}

// normalizeNode turns a node as -addr or -url may give it (host:port,
// http://host:port/, ws://host:port/ws) into host:port, with localhost as
// 127.0.0.1 (never ::1: source addresses are IPv4 loopback). What it
// cannot read it returns as it is, for target to refuse.
func normalizeNode(u string) string {
	for _, scheme := range []string{"http://", "ws://", "https://", "wss://"} {
		u = strings.TrimPrefix(u, scheme)
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, command.PathWS), "/")
	if host, port, err := net.SplitHostPort(u); err == nil && host == "localhost" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return u
}

// FlagSet returns a flag set for mode bound to c.
func (c *Config) FlagSet(mode string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadgen "+mode, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Addr, "addr", c.Addr, "server host:port (loopback only unless -allow-remote)")
	fs.BoolVar(&c.AllowRemote, "allow-remote", c.AllowRemote, "allow a non-loopback -addr")
	fs.Func("url", "comma-separated nodes of a cluster (host:port or http://host:port): connections are spread over them round-robin; overrides -addr", func(s string) error {
		// Normalised as parsed, and the first node becomes -addr, so
		// the report shows what was loaded; target refuses what does
		// not read as host:port.
		c.URLs = nil
		for _, u := range strings.Split(s, ",") {
			if u = strings.TrimSpace(u); u != "" {
				c.URLs = append(c.URLs, normalizeNode(u))
			}
		}
		if len(c.URLs) > 0 {
			c.Addr = c.URLs[0]
		}
		return nil
	})
	fs.StringVar(&c.AdminAddr, "admin", c.AdminAddr, "ICS admin API address (e.g. 127.0.0.1:9090): print the server's per-shard and per-loop stats after the run")
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "bearer token for -admin (default $ICS_ADMIN_TOKEN)")
	fs.IntVar(&c.Conns, "conns", c.Conns, "connections")
	rateHelp := "messages/s per publisher (open loop)"
	if mode == "connect" {
		rateHelp = "new connections/s (auth + upgrade)"
	}
	fs.Float64Var(&c.Rate, "rate", c.Rate, rateHelp)
	fs.DurationVar(&c.Duration, "duration", c.Duration, "run time (fanout: publishing time incl. warmup; connect: idle hold)")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "leading time excluded from latency figures")
	fs.IntVar(&c.ServerPID, "server-pid", c.ServerPID, "server process id for CPU and RSS from /proc (else /metrics is tried)")
	fs.StringVar(&c.Compat, "compat", c.Compat, `server dialect: "" (protocol v1), "seed" (original ICS) or "centrifugo" (Centrifugo's JSON protocol, insecure client mode)`)
	fs.StringVar(&c.Prefix, "prefix", c.Prefix, "nickname/room prefix; unique per generator process")
	fs.IntVar(&c.Loops, "loops", c.Loops, "client event loops (0 = one per CPU)")
	fs.IntVar(&c.ConnsPerSourceIP, "conns-per-ip", c.ConnsPerSourceIP, "connections per 127.x.y.z source address (0 = let the kernel pick)")
	fs.IntVar(&c.ConnOffset, "conn-offset", c.ConnOffset, "first connection slot of this process (several generators: 0, 20000, 40000, …)")
	fs.Float64Var(&c.MinRate, "min-rate", c.MinRate, "fail when deliveries/s (connect: connections/s) is below this")
	if mode == "connect" {
		fs.IntVar(&c.Rooms, "rooms", c.Rooms, "connect storm into this many rooms: each connection, once up, switches into room i%R (the first of each creates it; every arrival is announced to the room) and lists its users; 1 = stay in global")
	}
	if mode != "connect" {
		fs.IntVar(&c.Rooms, "rooms", c.Rooms, "rooms")
		fs.IntVar(&c.Publishers, "publishers", c.Publishers, "publishers per room")
		fs.IntVar(&c.Size, "size", c.Size, "message body bytes")
		fs.DurationVar(&c.MaxP99, "max-p99", c.MaxP99, "fail (sweep: stop) when p99 latency exceeds this; 0 = off")
		fs.DurationVar(&c.Drain, "drain", c.Drain, "wait this long for in-flight messages after publishing stops")
		fs.DurationVar(&c.Settle, "settle", c.Settle, "before publishing, wait at most this long for join/leave events to stop arriving")
		fs.Float64Var(&c.ConnectRate, "connect-rate", c.ConnectRate, "new connections/s during setup")
	}
	if mode == "sweep" {
		fs.Float64Var(&c.Step, "step", c.Step, "offered-load multiplier per step")
		fs.IntVar(&c.MaxSteps, "max-steps", c.MaxSteps, "maximum steps")
	}
	if mode == "abuse" {
		fs.StringVar(&c.Scenarios, "scenarios", c.Scenarios, "comma-separated abuse scenarios to run (default all): "+strings.Join(ScenarioNames(), ","))
		fs.IntVar(&c.AbuseSockets, "abuse-sockets", DefaultAbuseSockets, "idle sockets the fd_exhaustion abuse scenario opens")
	}
	if mode == "churn" {
		fs.Float64Var(&c.ChurnRate, "churn-rate", c.ChurnRate, "reconnect cycles/s while the fanout runs")
	}
	return fs
}
