package wsio

import (
	"net"
	"net/http"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/ics-chat/ics/internal/addrcount"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/config"
)

// socketBudget is how many client sockets the server keeps open at most:
// configured, or the open-files limit less the descriptors already open
// (the event loops' pollers, the listener) and a reserve for the admin API,
// metrics, NATS and files, so the kernel never answers accept(2) with EMFILE
// under a flood of idle sockets. It runs in OnBoot, once gnet's own
// descriptors exist.
func socketBudget(configured int) (int, error) {
	if configured > 0 {
		return configured, nil
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return budgetFor(rl.Cur, openFDs()), nil
}

// budgetFor leaves min(DefaultFDReserve, limit/4) descriptors free beyond
// the open ones; at least one socket is always allowed.
func budgetFor(limit uint64, open int) int {
	reserve := min(uint64(config.DefaultFDReserve), limit/4) + uint64(open)
	if reserve >= limit {
		return 1
	}
	return int(limit - reserve)
}

// openFDs counts this process's open descriptors (0 when unknown).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// addrKey is the unit the per-address cap counts (addrcount.Key of the
// peer's IP).
func addrKey(a net.Addr) netip.Addr {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return netip.Addr{}
	}
	return addrcount.Key(ip)
}

// refusal is written to a socket that is closed at accept: a short HTTP
// answer so a browser or load generator shows why.
func refusal(perAddr bool) []byte {
	if perAddr {
		return httpErrorResponse(http.StatusServiceUnavailable, command.ErrTooManyConnsFromAddr, "too many connections from your address")
	}
	return httpErrorResponse(http.StatusServiceUnavailable, command.ErrTooManyConns, "server is at its socket limit; retry later")
}

// gate runs on gnet's acceptor for every accepted socket, before any event
// loop sees it: it counts the socket, or writes a short 503 and refuses it
// (the acceptor closes it).
func (s *Server) gate(fd int, remote net.Addr) bool {
	r := s.admit.Load().Take(addrKey(remote))
	if r != addrcount.OK {
		s.refused.Add(1)
		_, _ = unix.Write(fd, refusal(r == addrcount.PerAddr))
	}
	return r == addrcount.OK
}
