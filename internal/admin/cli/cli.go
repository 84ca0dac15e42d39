// Package cli is `server admin ...`: a command-line client of the gRPC admin
// API (proto/ics/admin/v1). It prints readable tables by default and the
// API's JSON (protojson) with -json.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

// DefaultAddr is where the CLI looks for the admin API.
const DefaultAddr = "127.0.0.1:9090"

const usage = `Usage: server admin COMMAND [flags] [args]

Commands:
  stats                      node, shard and event-loop statistics, then every /metrics value
  watch [-interval 1s] [-count N]
                             stats again every interval until interrupted
  nodes                      the cluster's nodes (registry): addresses, start, load
  rooms                      every room (cluster-wide): members, owning shard, seq and history bytes
  users [-room ROOM]         connected users (of one room, or all)
  kick [-reason TEXT] NICK   close NICK's connection (4001) and free the nickname
  broadcast [-room ROOM] TEXT
                             a message from "system" to ROOM (default: every room)
  create-room NAME           create an empty room
  delete-room NAME           delete a room, moving its members to global
  drain [-drain-timeout D]   drain the server as SIGTERM does (the server then exits)

Flags of every command:
  -addr HOST:PORT   admin API address (default 127.0.0.1:9090, or $ICS_ADMIN_ADDR)
  -token TOKEN      bearer token (default $ICS_ADMIN_TOKEN)
  -json             print the API's JSON instead of a table (the proto3 JSON
                    mapping: 64-bit integers are strings, e.g. "goroutines": "18")
  -timeout D        deadline of each call (default 10s; drain: its drain timeout + 5s)
`

type opts struct {
	addr, token string
	json        bool
	timeout     time.Duration

	// per command
	room, reason string
	interval     time.Duration
	count        int
	pageSize     int
	drainTimeout time.Duration
}

// Run runs one admin command and returns the process exit code (0 ok, 1 the
// call failed, 2 usage).
func Run(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, args := args[0], args[1:]
	o := opts{addr: DefaultAddr, timeout: 10 * time.Second, pageSize: 1000}
	if v, ok := env("ICS_ADMIN_ADDR"); ok && v != "" {
		o.addr = v
	}
	if v, ok := env("ICS_ADMIN_TOKEN"); ok {
		o.token = v
	}
	fs := flag.NewFlagSet("server admin "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.StringVar(&o.addr, "addr", o.addr, "admin API address")
	fs.StringVar(&o.token, "token", o.token, "bearer token")
	fs.BoolVar(&o.json, "json", false, "print JSON")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "deadline of each call")
	switch cmd {
	case "users":
		fs.StringVar(&o.room, "room", "", "only this room")
		fs.IntVar(&o.pageSize, "page-size", o.pageSize, "users per call")
	case "rooms":
		fs.IntVar(&o.pageSize, "page-size", o.pageSize, "rooms per call")
	case "broadcast":
		fs.StringVar(&o.room, "room", "", "target room (default: every room)")
	case "kick":
		fs.StringVar(&o.reason, "reason", "", "close reason shown to the client")
	case "watch":
		fs.DurationVar(&o.interval, "interval", time.Second, "time between snapshots (at least 100ms)")
		fs.IntVar(&o.count, "count", 0, "stop after this many snapshots (0: until interrupted)")
	case "drain":
		fs.DurationVar(&o.drainTimeout, "drain-timeout", 0, "longest to wait for clients (default: the server's -drain-timeout)")
	case "stats", "nodes", "create-room", "delete-room":
	default:
		fmt.Fprintf(stderr, "server admin: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	// Flags may come before or after the positional arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	c, err := dial(o)
	if err != nil {
		fmt.Fprintln(stderr, "server admin:", err)
		return 1
	}
	defer c.close()
	if err := c.run(cmd, pos, stdout); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "server admin %s: %v\n\n%s", cmd, err, usage)
			return 2
		}
		if st, ok := status.FromError(err); ok {
			fmt.Fprintf(stderr, "server admin %s: %s: %s\n", cmd, st.Code(), st.Message())
		} else {
			fmt.Fprintf(stderr, "server admin %s: %v\n", cmd, err)
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

type client struct {
	o    opts
	conn *grpc.ClientConn
	api  adminv1.AdminServiceClient
}

func dial(o opts) (*client, error) {
	conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &client{o: o, conn: conn, api: adminv1.NewAdminServiceClient(conn)}, nil
}

func (c *client) close() { _ = c.conn.Close() }

func (c *client) ctx(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx := parent
	if c.o.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.o.token)
	}
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return context.WithCancel(ctx)
}

func need(pos []string, n int, what string) error {
	if len(pos) != n {
		return fmt.Errorf("%w: want %s", errUsage, what)
	}
	return nil
}

func (c *client) run(cmd string, pos []string, w io.Writer) error {
	bg := context.Background()
	switch cmd {
	case "stats":
		if err := need(pos, 0, "no arguments"); err != nil {
			return err
		}
		ctx, cancel := c.ctx(bg, c.o.timeout)
		defer cancel()
		r, err := c.api.GetStats(ctx, &adminv1.GetStatsRequest{})
		if err != nil {
			return err
		}
		return c.print(w, r, func(tw *tabwriter.Writer) { statsTable(tw, r) })
	case "watch":
		if err := need(pos, 0, "no arguments"); err != nil {
			return err
		}
		sctx, stop := signal.NotifyContext(bg, os.Interrupt, syscall.SIGTERM)
		defer stop()
		ctx, cancel := c.ctx(sctx, 0)
		defer cancel()
		stream, err := c.api.WatchStats(ctx, &adminv1.WatchStatsRequest{Interval: durationpb.New(c.o.interval)})
		if err != nil {
			return err
		}
		for n := 0; c.o.count == 0 || n < c.o.count; n++ {
			r, err := stream.Recv()
			if err != nil {
				if sctx.Err() != nil {
					return nil // interrupted
				}
				return err
			}
			if c.o.json {
				b, _ := protojson.Marshal(r)
				fmt.Fprintln(w, string(b))
				continue
			}
			if n > 0 {
				fmt.Fprintln(w)
			}
			tw := newTab(w)
			statsTable(tw, r)
			tw.Flush()
		}
		return nil
	case "nodes":
		if err := need(pos, 0, "no arguments"); err != nil {
			return err
		}
		ctx, cancel := c.ctx(bg, c.o.timeout)
		defer cancel()
		r, err := c.api.ListNodes(ctx, &adminv1.ListNodesRequest{})
		if err != nil {
			return err
		}
		return c.print(w, r, func(tw *tabwriter.Writer) {
			fmt.Fprintln(tw, "NODE\tHTTP\tADMIN\tSTARTED\tCONNECTIONS\tROOMS\t")
			for _, n := range r.Nodes {
				self := ""
				if n.Self {
					self = "(this node)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", n.Id, n.HttpAddr, n.AdminAddr,
					n.StartTime.AsTime().UTC().Format(time.RFC3339), n.Connections, n.Rooms, self)
			}
		})
	case "rooms":
		if err := need(pos, 0, "no arguments"); err != nil {
			return err
		}
		all := &adminv1.ListRoomsResponse{}
		for {
			ctx, cancel := c.ctx(bg, c.o.timeout)
			r, err := c.api.ListRooms(ctx, &adminv1.ListRoomsRequest{PageSize: int32(c.o.pageSize), PageToken: all.NextPageToken})
			cancel()
			if err != nil {
				return err
			}
			all.Rooms = append(all.Rooms, r.Rooms...)
			if all.NextPageToken = r.NextPageToken; all.NextPageToken == "" {
				break
			}
		}
		return c.print(w, all, func(tw *tabwriter.Writer) {
			fmt.Fprintln(tw, "ROOM\tMEMBERS\tSHARD\tSEQ\tHISTORY_BYTES\tEPOCH")
			for _, r := range all.Rooms {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", r.Name, r.MemberCount, r.Shard, r.Seq, r.HistoryBytes, r.Epoch)
			}
		})
	case "users":
		if err := need(pos, 0, "no arguments (use -room ROOM)"); err != nil {
			return err
		}
		all := &adminv1.ListUsersResponse{}
		for {
			ctx, cancel := c.ctx(bg, c.o.timeout)
			r, err := c.api.ListUsers(ctx, &adminv1.ListUsersRequest{Room: c.o.room, PageSize: int32(c.o.pageSize), PageToken: all.NextPageToken})
			cancel()
			if err != nil {
				return err
			}
			all.Users = append(all.Users, r.Users...)
			if all.NextPageToken = r.NextPageToken; all.NextPageToken == "" {
				break
			}
		}
		now := time.Now()
		return c.print(w, all, func(tw *tabwriter.Writer) {
			fmt.Fprintln(tw, "NICKNAME\tROOM\tREMOTE\tCONNECTED\tSENT\tBACKLOG")
			for _, u := range all.Users {
				since := u.ConnectedSince.AsTime()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s (%s ago)\t%d\t%s\n", u.Nickname, u.Room, u.RemoteAddr,
					since.Local().Format(time.DateTime), now.Sub(since).Round(time.Second), u.MessagesSent, bytesStr(uint64(u.BacklogBytes)))
			}
		})
	case "kick":
		if err := need(pos, 1, "one nickname"); err != nil {
			return err
		}
		ctx, cancel := c.ctx(bg, c.o.timeout)
		defer cancel()
		r, err := c.api.Kick(ctx, &adminv1.KickRequest{Nickname: pos[0], Reason: c.o.reason})
		if err != nil {
			return err
		}
		return c.print(w, r, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "kicked %s\n", pos[0]) })
	case "broadcast":
		if len(pos) == 0 {
			return fmt.Errorf("%w: want the message text", errUsage)
		}
		ctx, cancel := c.ctx(bg, c.o.timeout)
		defer cancel()
		r, err := c.api.Broadcast(ctx, &adminv1.BroadcastRequest{Room: c.o.room, Body: strings.Join(pos, " ")})
		if err != nil {
			return err
		}
		return c.print(w, r, func(tw *tabwriter.Writer) {
			fmt.Fprintf(tw, "sent to %s in %s\n", plural(int64(r.Recipients), "connection"), plural(int64(r.Rooms), "room"))
		})
	case "create-room":
		if err := need(pos, 1, "one room name"); err != nil {
			return err
		}
		ctx, cancel := c.ctx(bg, c.o.timeout)
		defer cancel()
		r, err := c.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: pos[0]})
		if err != nil {
			return err
		}
		return c.print(w, r, func(tw *tabwriter.Writer) {
			fmt.Fprintf(tw, "created room %s on shard %d\n", r.Room.GetName(), r.Room.GetShard())
		})
	case "delete-room":
		if err := need(pos, 1, "one room name"); err != nil {
			return err
		}
		ctx, cancel := c.ctx(bg, c.o.timeout)
		defer cancel()
		r, err := c.api.DeleteRoom(ctx, &adminv1.DeleteRoomRequest{Name: pos[0]})
		if err != nil {
			return err
		}
		return c.print(w, r, func(tw *tabwriter.Writer) {
			fmt.Fprintf(tw, "deleted room %s; moving %s to global\n", pos[0], plural(int64(r.Moved), "member"))
		})
	case "drain":
		if err := need(pos, 0, "no arguments"); err != nil {
			return err
		}
		req := &adminv1.DrainRequest{}
		timeout := c.o.timeout
		if c.o.drainTimeout > 0 {
			req.Timeout = durationpb.New(c.o.drainTimeout)
			timeout = max(timeout, c.o.drainTimeout+5*time.Second)
		} else {
			timeout = max(timeout, 70*time.Second)
		}
		ctx, cancel := c.ctx(bg, timeout)
		defer cancel()
		r, err := c.api.Drain(ctx, req)
		if err != nil {
			return err
		}
		return c.print(w, r, func(tw *tabwriter.Writer) {
			fmt.Fprintf(tw, "drained: %s still open\n", plural(r.Remaining, "connection"))
		})
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

func newTab(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// print writes m as JSON with -json, else the table.
func (c *client) print(w io.Writer, m proto.Message, table func(*tabwriter.Writer)) error {
	if c.o.json {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitUnpopulated: true}.Marshal(m)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	tw := newTab(w)
	table(tw)
	return tw.Flush()
}

func statsTable(tw *tabwriter.Writer, r *adminv1.GetStatsResponse) {
	n := r.GetNode()
	var sockets int64
	for _, l := range r.GetLoops() {
		sockets += l.GetSockets()
	}
	fmt.Fprintf(tw, "node %s\tversion %s\tup %s (since %s)\tgoroutines %d\theap %s\tgc %d\tconnections %d (sockets %d)\tdraining %t\n",
		n.GetNodeId(), n.GetVersion(), n.GetUptime().AsDuration().Round(time.Second), n.GetStartTime().AsTime().Local().Format(time.DateTime),
		n.GetGoroutines(), bytesStr(n.GetHeapAllocBytes()), n.GetGcCount(), n.GetConnections(), sockets, n.GetDraining())
	tw.Flush()
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SHARD\tROOMS\tMEMBERS\tNICKS\tINBOX\tINBOX-HIGH\tCOMMANDS\tMSGS-IN\tDELIVERIES\tBYTES-OUT")
	for _, s := range r.GetShards() {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Index, s.Rooms, s.Members, s.Nicknames,
			s.InboxDepth, s.InboxHighWater, s.Commands, s.MessagesIn, s.DeliveriesOut, bytesStr(s.BytesOut))
	}
	tw.Flush()
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "LOOP\tCONNS\tSOCKETS\tWRITES\tFRAMES\tFRAMES/WRITE\tWINDOW\tBYTES-OUT\tSLOW-CLOSES\tRATE-LIMITED\tRATE-CLOSES")
	for _, l := range r.GetLoops() {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%.2f\t%s\t%s\t%d\t%d\t%d\n", l.Index, l.Connections, l.Sockets, l.WriteCalls, l.Frames,
			l.FramesPerWrite, l.GetFlushWindow().AsDuration().Round(10*time.Microsecond), bytesStr(l.BytesOut), l.SlowConsumerCloses, l.RateLimited, l.RateLimitCloses)
	}
	tw.Flush()
	fmt.Fprintln(tw)
	metricsTable(tw, r.GetMetrics())
}

func bytesStr(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

// plural is "1 room", "2 rooms".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
