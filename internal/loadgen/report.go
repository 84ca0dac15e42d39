package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Second is one point of a run's timeline.
type Second struct {
	T             int     `json:"t"`              // seconds since publishing started
	Sent          uint64  `json:"sent"`           // messages published in this second
	Deliveries    uint64  `json:"deliveries"`     // unique messages received in this second
	P50Ms         float64 `json:"p50_ms"`         // latency percentiles of this second's deliveries
	P90Ms         float64 `json:"p90_ms"`         //
	P99Ms         float64 `json:"p99_ms"`         //
	MaxMs         float64 `json:"max_ms"`         //
	ConnsUp       int     `json:"conns_up"`       // live connections at the end of the second
	ChurnCycles   int64   `json:"churn_cycles"`   // churn: completed reconnects so far
	ChurnFailures int64   `json:"churn_failures"` // churn: failed reconnects so far
}

// Report is every figure of one run. Failures lists the invariants that did
// not hold; a run passed when it is empty.
type Report struct {
	Mode     string    `json:"mode"`
	Config   Config    `json:"config"`
	Started  time.Time `json:"started"`
	WallSec  float64   `json:"wall_s"`
	Failures []string  `json:"failures"`

	ConnsWanted     int     `json:"conns_wanted"`
	ConnsUp         int     `json:"conns_up"`
	ConnectErrors   int     `json:"connect_errors"`
	ConnectError    string  `json:"connect_error,omitempty"`
	ClosedDuringRun int64   `json:"closed_during_run"`
	SettleSec       float64 `json:"settle_s,omitempty"` // time spent waiting for membership events before publishing

	// AuthRefused429 counts connections /auth refused with 429: the
	// server's per-address /auth limit capped the connect rate.
	AuthRefused429 int `json:"auth_refused_429,omitempty"`

	// fanout / sweep step
	Sent             uint64         `json:"sent"`
	Unsent           uint64         `json:"unsent"` // scheduled messages not sent: the publisher's connection was closed
	Expected         uint64         `json:"expected"`
	Delivered        uint64         `json:"delivered"`
	Lost             uint64         `json:"lost"`
	Dup              uint64         `json:"dup"`
	Reordered        uint64         `json:"reordered"`
	OtherFrames      uint64         `json:"other_frames"`
	PublishPerSec    float64        `json:"publish_per_s"`
	DeliveriesPerSec float64        `json:"deliveries_per_s"`
	Latency          LatencySummary `json:"latency"`
	// SendLag is how late the generator itself sent messages relative to
	// their intended times (after warmup); it is part of Latency, so a large
	// SendLag means the generator, not the server, was the bottleneck.
	SendLag LatencySummary `json:"send_lag"`
	// Restart is what the connections the server closed with 1012 (a
	// drain: SIGTERM, a rolling restart) saw last, room by room.
	Restart      *RestartCheck    `json:"restart,omitempty"`
	ErrorCodes   map[string]int64 `json:"error_codes,omitempty"`
	CloseCodes   map[int]int64    `json:"close_codes,omitempty"`
	GeneratorCPU CPUStats         `json:"generator_cpu"`
	Server       *ServerStats     `json:"server,omitempty"`
	Timeline     []Second         `json:"timeline,omitempty"`

	// connect
	ConnectPerSec float64         `json:"connect_per_s,omitempty"`
	RoomsJoined   int             `json:"rooms_joined,omitempty"` // connect -rooms: connections that saw their own joined in their room
	Ramp          []RampPoint     `json:"ramp,omitempty"`
	Handshake     *LatencySummary `json:"handshake,omitempty"`

	// sweep
	Steps            []Report `json:"steps,omitempty"`
	BestDeliveryRate float64  `json:"best_delivery_rate,omitempty"`
	StopReason       string   `json:"stop_reason,omitempty"`

	// churn
	Churn *ChurnStats `json:"churn,omitempty"`

	// abuse
	Abuse []AbuseResult `json:"abuse,omitempty"`
}

// nodes is what the run loaded: its Config's target, or Addr as given
// where that does not resolve (a report built by hand).
func (r *Report) nodes() []string {
	if t, err := r.Config.target(); err == nil {
		return t.nodes
	}
	return []string{r.Config.Addr}
}

// OK reports whether every invariant held.
func (r *Report) OK() bool { return len(r.Failures) == 0 }

func (r *Report) failf(format string, a ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, a...))
}

// WriteJSON writes r, indented, to path.
func (r *Report) WriteJSON(path string) error {
	if r.Failures == nil {
		r.Failures = []string{} // "failures": [] rather than null
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write JSON report %s: %w", path, err)
	}
	return nil
}

// WriteSummary writes a human summary of r.
func (r *Report) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "loadgen %s against %s: %.1fs wall\n", r.Mode, strings.Join(r.nodes(), ","), r.WallSec)
	fmt.Fprintf(w, "  connections: %d/%d up", r.ConnsUp, r.ConnsWanted)
	if r.ConnectErrors > 0 {
		fmt.Fprintf(w, " (%d failed: %s)", r.ConnectErrors, r.ConnectError)
	}
	if r.ClosedDuringRun > 0 {
		fmt.Fprintf(w, ", %d closed during run", r.ClosedDuringRun)
	}
	fmt.Fprintln(w)
	if rc := r.Restart; rc != nil {
		fmt.Fprintf(w, "  server restart (1012): %d connections in %d rooms; %d rooms where every member saw the same last message", rc.Conns, rc.Rooms, rc.Consistent)
		for _, m := range rc.Mismatches {
			fmt.Fprintf(w, "; %s", m)
		}
		fmt.Fprintln(w)
	}
	if r.AuthRefused429 > 0 {
		fmt.Fprintf(w, "  /auth answered 429 Too Many Requests %d times: the server's per-address /auth limit capped the connect rate (raise -auth-rate and -auth-burst on the server for big runs)\n", r.AuthRefused429)
	}
	switch r.Mode {
	case "connect":
		fmt.Fprintf(w, "  connect rate: %.0f conns/s\n", r.ConnectPerSec)
		if r.Config.Rooms > 1 {
			fmt.Fprintf(w, "  storm into %d rooms: %d connections joined their room (each join announced, then listusers)\n", r.Config.Rooms, r.RoomsJoined)
		}
		if r.Handshake != nil {
			h := r.Handshake
			fmt.Fprintf(w, "  handshake (auth+upgrade) ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", h.P50Ms, h.P90Ms, h.P99Ms, h.P999Ms, h.MaxMs)
		}
	case "sweep":
		for i, s := range r.Steps {
			fmt.Fprintf(w, "  step %2d: publishers/room %d rate %.1f/s → %.0f deliveries/s, p99 %.2f ms, lost %d, ok=%v\n",
				i, s.Config.Publishers, s.Config.Rate, s.DeliveriesPerSec, s.Latency.P99Ms, s.Lost, s.OK())
		}
		fmt.Fprintf(w, "  highest sustained delivery rate: %.0f deliveries/s (stopped: %s)\n", r.BestDeliveryRate, r.StopReason)
	case "abuse":
		for _, a := range r.Abuse {
			fmt.Fprintf(w, "  %-16s pass=%-5v %s\n", a.Name, a.Pass, a.Detail)
			if s := a.Server; s != nil {
				fmt.Fprintf(w, "  %-16s server: CPU %.2fs (%.0f%%), RSS %.1f → %.1f MiB\n", "", s.CPUSec, s.CPUPercent,
					float64(s.RSSBytesBefore)/(1<<20), float64(s.RSSBytesAfter)/(1<<20))
			}
		}
	}
	if r.Expected > 0 || r.Sent > 0 {
		fmt.Fprintf(w, "  messages: sent %d, expected deliveries %d, delivered %d, lost %d, dup %d, reordered %d\n",
			r.Sent, r.Expected, r.Delivered, r.Lost, r.Dup, r.Reordered)
		if r.Unsent > 0 {
			fmt.Fprintf(w, "  unsent: %d scheduled messages skipped because their publisher's connection was closed\n", r.Unsent)
		}
		fmt.Fprintf(w, "  throughput: %.0f publishes/s, %.0f deliveries/s\n", r.PublishPerSec, r.DeliveriesPerSec)
		l := r.Latency
		fmt.Fprintf(w, "  latency ms (after warmup, n=%d): p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", l.Count, l.P50Ms, l.P90Ms, l.P99Ms, l.P999Ms, l.MaxMs)
		sl := r.SendLag
		fmt.Fprintf(w, "  generator send lag ms (included above): p50 %.2f  p99 %.2f  max %.2f\n", sl.P50Ms, sl.P99Ms, sl.MaxMs)
	}
	if r.Churn != nil {
		c := r.Churn
		fmt.Fprintf(w, "  churn: %d reconnect cycles, %d failed, %d re-auth refusals\n", c.Cycles, c.Failures, c.ReauthRefused)
		fmt.Fprintf(w, "  recovery: %d complete histories checked, %d messages recovered, %d incomplete, %d missed", c.RecoveryChecks, c.Recovered, c.RecoveryPartial, c.RecoveryMissed)
		if c.NoHistory > 0 {
			fmt.Fprintf(w, ", %d connections to a server without history", c.NoHistory)
		}
		fmt.Fprintln(w)
	}
	if len(r.ErrorCodes) > 0 {
		fmt.Fprintf(w, "  server error frames: %s\n", fmtCounts(r.ErrorCodes))
	}
	if len(r.CloseCodes) > 0 {
		m := map[string]int64{}
		for k, v := range r.CloseCodes {
			m[fmt.Sprint(k)] = v
		}
		fmt.Fprintf(w, "  close codes: %s\n", fmtCounts(m))
	}
	g := r.GeneratorCPU
	fmt.Fprintf(w, "  generator: CPU user %.2fs sys %.2fs (%.0f%% of a core), peak RSS %.1f MiB\n", g.UserSec, g.SysSec, g.Percent, float64(g.PeakRSSBytes)/(1<<20))
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "  server (%s): CPU %.2fs (%.0f%% of a core), RSS %.1f → %.1f MiB", s.Source, s.CPUSec, s.CPUPercent,
			float64(s.RSSBytesBefore)/(1<<20), float64(s.RSSBytesAfter)/(1<<20))
		switch {
		case s.RSSBelowNoise:
			fmt.Fprintf(w, " (change below the measurement noise of ±%d MiB: too small a run for a figure per connection)", RSSNoiseBytes>>20)
		case s.RSSPerConnBytes != 0:
			fmt.Fprintf(w, ", %.1f KiB per connection", s.RSSPerConnBytes/1024)
		}
		fmt.Fprintln(w)
	}
	if r.OK() {
		fmt.Fprintln(w, "  result: PASS")
	} else {
		fmt.Fprintf(w, "  result: FAIL\n    - %s\n", strings.Join(r.Failures, "\n    - "))
	}
}

func fmtCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
