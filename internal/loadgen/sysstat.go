package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// RaiseFileLimit raises the RLIMIT_NOFILE soft limit to the hard limit and
// returns the new soft limit.
func RaiseFileLimit() (uint64, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("getrlimit(RLIMIT_NOFILE): %w", err)
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
			return 0, fmt.Errorf("setrlimit(RLIMIT_NOFILE, %d): %w", r.Max, err)
		}
	}
	return r.Cur, nil
}

// cpuTimes is user+system CPU time of this process.
func cpuTimes() (user, sys time.Duration) {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// CPUStats is the generator's own resource use over a run.
type CPUStats struct {
	UserSec      float64 `json:"user_s"`
	SysSec       float64 `json:"sys_s"`
	Percent      float64 `json:"percent"`        // of one core over the wall time
	PeakRSSBytes int64   `json:"peak_rss_bytes"` // VmHWM of the generator process
}

// peakRSS reads this process's VmHWM from /proc/self/status (0 if unknown).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

type cpuMark struct {
	u, s time.Duration
	at   time.Time
}

func markCPU() cpuMark { u, s := cpuTimes(); return cpuMark{u, s, time.Now()} }

func (m cpuMark) since() CPUStats {
	u, s := cpuTimes()
	wall := time.Since(m.at).Seconds()
	st := CPUStats{UserSec: (u - m.u).Seconds(), SysSec: (s - m.s).Seconds(), PeakRSSBytes: peakRSS()}
	if wall > 0 {
		st.Percent = 100 * (st.UserSec + st.SysSec) / wall
	}
	return st
}

// ServerSample is one observation of the server process.
type ServerSample struct {
	Source   string  `json:"source"` // "proc" or "metrics"
	CPUSec   float64 `json:"cpu_s"`
	RSSBytes int64   `json:"rss_bytes"`
	at       time.Time
}

// ServerStats is the server's resource use over a run, where known.
type ServerStats struct {
	Source          string  `json:"source"`
	PID             int     `json:"pid,omitempty"`
	CPUSec          float64 `json:"cpu_s"`
	CPUPercent      float64 `json:"cpu_percent"`
	RSSBytesBefore  int64   `json:"rss_bytes_before"`
	RSSBytesAfter   int64   `json:"rss_bytes_after"`
	RSSPerConnBytes float64 `json:"rss_per_conn_bytes,omitempty"`
	// RSSBelowNoise: the RSS moved less than RSSNoiseBytes, so no figure
	// per connection is given (a few hundred connections move RSS by less
	// than the GC and the allocator do on their own).
	RSSBelowNoise bool `json:"rss_below_noise,omitempty"`
}

// RSSNoiseBytes is the RSS change below which a per-connection figure would
// be noise: the heap's own growth and release between two samples.
const RSSNoiseBytes = 4 << 20

// sampleServer reads the server's CPU and RSS from /proc/PID when pid > 0,
// else from the Prometheus text at http://addr/metrics. ok is false when
// neither is available.
func sampleServer(ctx context.Context, pid int, addr string) (ServerSample, bool) {
	if pid > 0 {
		s, err := procSample(pid)
		return s, err == nil
	}
	s, err := metricsSample(ctx, addr)
	return s, err == nil
}

func procSample(pid int) (ServerSample, error) {
	s := ServerSample{Source: "proc", at: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			s.RSSBytes = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	u, st, err := parseProcStat(string(stat))
	if err != nil {
		return s, fmt.Errorf("pid %d: %w", pid, err)
	}
	s.CPUSec = float64(u+st) / 100 // USER_HZ is 100 on Linux
	return s, nil
}

// parseProcStat returns utime and stime (clock ticks) from /proc/PID/stat.
func parseProcStat(stat string) (utime, stime int64, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed /proc stat %q", truncate(stat, 80))
	}
	f := strings.Fields(stat[i+1:])
	// after ")": state(0) ... utime is field 14 overall → index 11 here
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("short /proc stat: %d fields after comm", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bad utime/stime %q %q in /proc stat", f[11], f[12])
	}
	return utime, stime, nil
}

func metricsSample(ctx context.Context, addr string) (ServerSample, error) {
	s := ServerSample{Source: "metrics", at: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return s, err
	}
	// No keep-alive: an idle pooled connection would leave a reader
	// goroutine behind the run.
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("GET /metrics on %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET /metrics on %s: status %d", addr, resp.StatusCode)
	}
	found := 0
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "process_resident_memory_bytes":
			s.RSSBytes = int64(v)
			found++
		case "process_cpu_seconds_total":
			s.CPUSec = v
			found++
		}
	}
	if found == 0 {
		return s, fmt.Errorf("no process_* metrics at http://%s/metrics", addr)
	}
	return s, nil
}

// serverStats compares two samples; conns > 0 fills the per-connection RSS.
func serverStats(pid int, a, b ServerSample, conns int) *ServerStats {
	st := &ServerStats{Source: a.Source, PID: pid, CPUSec: b.CPUSec - a.CPUSec,
		RSSBytesBefore: a.RSSBytes, RSSBytesAfter: b.RSSBytes}
	if wall := b.at.Sub(a.at).Seconds(); wall > 0 {
		st.CPUPercent = 100 * st.CPUSec / wall
	}
	if d := b.RSSBytes - a.RSSBytes; conns > 0 && d < RSSNoiseBytes && d > -RSSNoiseBytes {
		st.RSSBelowNoise = true
	} else if conns > 0 {
		st.RSSPerConnBytes = float64(d) / float64(conns)
	}
	return st
}
