package cluster

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// startEmbedded runs the in-process NATS server with JetStream, its route
// listener on ClusterListen and routes to ClusterPeers.
func startEmbedded(o *Options, token string) (*natsserver.Server, string, error) {
	dir := o.StoreDir
	tmp := ""
	if dir == "" {
		d, err := os.MkdirTemp("", "ics-nats-"+o.NodeID+"-")
		if err != nil {
			return nil, "", fmt.Errorf("jetstream store dir: %w", err)
		}
		dir, tmp = d, d
	}
	host, port, err := splitHostPort(o.ClusterListen)
	if err != nil {
		return nil, tmp, fmt.Errorf("-cluster-listen %q: %w", o.ClusterListen, err)
	}
	opts := &natsserver.Options{
		ServerName: o.NodeID,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
		// The route listener only starts once a client listener is up
		// (DontListen would leave routing waiting forever), so without
		// -nats-listen the client port is a random loopback port that
		// only holders of a per-process random token may use.
		Host:          "127.0.0.1",
		Port:          natsserver.RANDOM_PORT,
		Authorization: token,
		Cluster: natsserver.ClusterOpts{
			Name: "ics",
			Host: host,
			Port: port,
		},
	}
	if o.NATSListen != "" {
		// Exposed on purpose (other tools, other nodes' -nats-url): open.
		h, p, err := splitHostPort(o.NATSListen)
		if err != nil {
			return nil, tmp, fmt.Errorf("-nats-listen %q: %w", o.NATSListen, err)
		}
		opts.Host, opts.Port, opts.Authorization = h, p, ""
	}
	if len(o.ClusterPeers) > 0 {
		opts.Routes = natsserver.RoutesFromStr(joinComma(o.ClusterPeers))
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, tmp, fmt.Errorf("embedded NATS server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, tmp, fmt.Errorf("embedded NATS server on %s not ready after 10s", o.ClusterListen)
	}
	return ns, tmp, nil
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return h, port, nil
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// replicas is how many copies the KV buckets keep: every node up to three,
// so a bucket survives the loss of any one node of three.
func (o *Options) replicas() int {
	if o.ClusterListen == "" {
		return 3 // external cluster: tried first, 1 when it is smaller
	}
	seen := map[string]bool{}
	self := "nats://" + o.ClusterListen
	seen[self] = true
	for _, p := range o.ClusterPeers {
		seen[p] = true
	}
	return min(3, len(seen))
}
