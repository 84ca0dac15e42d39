package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/ics-chat/ics/internal/addrcount"
	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/shard"
	"github.com/ics-chat/ics/internal/web"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	lim := newIPLimiter(rate.Limit(s.cfg.AuthRate), s.cfg.AuthBurst)
	mux.HandleFunc(command.PathAuth, func(w http.ResponseWriter, r *http.Request) { s.handleAuth(w, r, lim) })
	s.probeRoutes(mux)
	if s.cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	}
	mux.Handle("/", securityHeaders(web.Handler()))
	return mux
}

// metricsRoutes is what -metrics-listen serves: metrics and the probes (so
// health stays observable even if the chat port is gone).
func (s *Server) metricsRoutes() http.Handler {
	mux := http.NewServeMux()
	s.probeRoutes(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return mux
}

// contentSecurityPolicy allows the page's own script, styles and
// WebSocket only, and no framing (clickjacking); the page has no inline
// script or style.
const contentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors 'none'"

// securityHeaders sets the browser hardening headers on the client's files.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// probeRoutes adds /healthz and /readyz to mux.
func (s *Server) probeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !s.Alive() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "dead"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.Alive() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "dead"})
			return
		}
		if s.ClusterLost() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "cluster_lost"})
			return
		}
		if s.Draining() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

type authResponse struct {
	Token     string `json:"token"`
	Nickname  string `json:"nickname"`
	ExpiresAt string `json:"expires_at"`
}

func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request, lim *ipLimiter) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, command.ErrMethodNotAllowed, "use POST /auth?nickname=NAME")
		return
	}
	if !s.ws.OriginAllowed(r.Header.Get("Origin"), r.Host) {
		// Same rule as /ws: no other site may make its visitors claim names.
		writeError(w, http.StatusForbidden, command.ErrOriginNotAllowed, "origin not allowed")
		return
	}
	addr := clientAddr(r.RemoteAddr)
	if !lim.allow(addr) {
		writeError(w, http.StatusTooManyRequests, command.ErrTooManyRequests, "too many /auth requests from your address; slow down")
		return
	}
	nick := r.URL.Query().Get("nickname")
	if nick == "" {
		// The original server read a form field; query wins when both are given.
		_ = r.ParseForm()
		nick = r.PostForm.Get("nickname")
	}
	if !command.ValidName(nick) {
		writeError(w, http.StatusBadRequest, command.ErrInvalidName, "nickname must be 2-32 characters: letters, digits, _ and -, not starting with a digit or -")
		return
	}
	if command.ReservedName(nick) {
		writeError(w, http.StatusBadRequest, command.ErrReservedName, "nickname "+nick+" is reserved")
		return
	}
	if s.Draining() {
		writeError(w, http.StatusServiceUnavailable, command.ErrDraining, "server is shutting down")
		return
	}
	token, cl, err := s.issuer.Issue(nick)
	if err != nil {
		s.log.Error("issue token", "nickname", nick, "err", err)
		writeError(w, http.StatusInternalServerError, command.ErrInternal, "could not issue a token")
		return
	}
	if s.cluster != nil {
		// Cluster-wide first: the name must be free on every node.
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		err := s.cluster.Reserve(ctx, nick, cl.ID)
		cancel()
		if errors.Is(err, cluster.ErrTaken) {
			writeError(w, http.StatusConflict, command.ErrNicknameTaken, "nickname "+nick+" is in use")
			return
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, command.ErrServerBusy, err.Error())
			return
		}
	}
	if err := s.shards.Reserve(r.Context(), nick, cl.ID, cl.Expires, addr); err != nil {
		if s.cluster != nil {
			s.cluster.Release(nick, cl.ID)
		}
		if errors.Is(err, shard.ErrNicknameTaken) {
			writeError(w, http.StatusConflict, command.ErrNicknameTaken, "nickname "+nick+" is in use")
			return
		}
		if errors.Is(err, shard.ErrTooManyClaims) {
			writeError(w, http.StatusTooManyRequests, command.ErrTooManyClaims, "too many nicknames claimed and not used yet; connect with the tokens you have or wait")
			return
		}
		writeError(w, http.StatusServiceUnavailable, command.ErrUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, authResponse{Token: token, Nickname: nick, ExpiresAt: cl.Expires.UTC().Format(time.RFC3339)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}

// clientAddr is what per-address limits count for a request's RemoteAddr:
// the IP, an IPv6 client by its /64 (addrcount.Key).
func clientAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return addrcount.Key(ap.Addr())
}

// ipLimiter is a token bucket per client address for POST /auth. Idle
// buckets are forgotten so the map stays small.
type ipLimiter struct {
	mu    sync.Mutex
	r     rate.Limit
	burst int
	m     map[netip.Addr]*ipBucket
	sweep time.Time
}

type ipBucket struct {
	l    *rate.Limiter
	seen time.Time
}

func newIPLimiter(r rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{r: r, burst: burst, m: map[netip.Addr]*ipBucket{}}
}

func (l *ipLimiter) allow(host netip.Addr) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		for k, b := range l.m {
			if now.Sub(b.seen) > time.Minute {
				delete(l.m, k)
			}
		}
		l.sweep = now
	}
	b := l.m[host]
	if b == nil {
		b = &ipBucket{l: rate.NewLimiter(l.r, l.burst)}
		l.m[host] = b
	}
	b.seen = now
	return b.l.AllowN(now, 1)
}
