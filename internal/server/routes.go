package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/shard"
	"github.com/ics-chat/ics/internal/web"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	lim := newIPLimiter(rate.Limit(s.cfg.AuthRate), s.cfg.AuthBurst)
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) { s.handleAuth(w, r, lim) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
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
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.Handle("/", web.Handler())
	return mux
}

type authResponse struct {
	Token     string `json:"token"`
	Nickname  string `json:"nickname"`
	ExpiresAt string `json:"expires_at"`
}

func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request, lim *ipLimiter) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST /auth?nickname=NAME")
		return
	}
	if !lim.allow(r.RemoteAddr) {
		writeError(w, http.StatusTooManyRequests, "too_many_requests", "too many /auth requests from your address; slow down")
		return
	}
	nick := r.URL.Query().Get("nickname")
	if nick == "" {
		// The original server read a form field; query wins when both are given.
		_ = r.ParseForm()
		nick = r.PostForm.Get("nickname")
	}
	if !command.ValidName(nick) {
		writeError(w, http.StatusBadRequest, "invalid_name", "nickname must be 2-32 characters: letters, digits, _ and -, not starting with a digit or -")
		return
	}
	if s.Draining() {
		writeError(w, http.StatusServiceUnavailable, "draining", "server is shutting down")
		return
	}
	token, cl, err := s.issuer.Issue(nick)
	if err != nil {
		s.log.Error("issue token", "nickname", nick, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not issue a token")
		return
	}
	if s.cluster != nil {
		// Cluster-wide first: the name must be free on every node.
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		err := s.cluster.Reserve(ctx, nick, cl.ID)
		cancel()
		if errors.Is(err, cluster.ErrTaken) {
			writeError(w, http.StatusConflict, "nickname_taken", "nickname "+nick+" is in use")
			return
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, command.ErrServerBusy, err.Error())
			return
		}
	}
	if err := s.shards.Reserve(r.Context(), nick, cl.ID, cl.Expires); err != nil {
		if s.cluster != nil {
			s.cluster.Release(nick, cl.ID)
		}
		if errors.Is(err, shard.ErrNicknameTaken) {
			writeError(w, http.StatusConflict, "nickname_taken", "nickname "+nick+" is in use")
			return
		}
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
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

// ipLimiter is a token bucket per client IP for POST /auth. Idle buckets are
// forgotten so the map stays small.
type ipLimiter struct {
	mu    sync.Mutex
	r     rate.Limit
	burst int
	m     map[string]*ipBucket
	sweep time.Time
}

type ipBucket struct {
	l    *rate.Limiter
	seen time.Time
}

func newIPLimiter(r rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{r: r, burst: burst, m: map[string]*ipBucket{}}
}

func (l *ipLimiter) allow(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
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
