package wsio

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gobwas/ws"

	"github.com/ics-chat/ics/internal/auth"
	"github.com/ics-chat/ics/internal/command"
)

type readWriter struct {
	io.Reader
	io.Writer
}

// handshake is what the upgrader's hooks learned about one /ws request.
type handshake struct {
	query    []byte
	host     string
	origin   string
	token    string
	protocol string // subprotocol to echo ("" for none)
	claims   auth.Claims
}

func (l *loop) initUpgrader() {
	l.up = ws.Upgrader{
		OnRequest: func(uri []byte) error {
			if q := bytes.IndexByte(uri, '?'); q >= 0 {
				l.hs.query = uri[q+1:]
			}
			return nil
		},
		OnHost: func(host []byte) error {
			l.hs.host = string(host)
			return nil
		},
		OnHeader: func(key, value []byte) error {
			if asciiEqualFold(key, "origin") {
				l.hs.origin = string(value)
			}
			return nil
		},
		ProtocolCustom: func(v []byte) (string, bool) {
			l.hs.token, l.hs.protocol = tokenFromProtocols(string(v))
			return l.hs.protocol, true
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			return nil, l.checkHandshake()
		},
	}
}

// tokenFromProtocols reads the token out of Sec-WebSocket-Protocol, accepting
// "ics.v1, TOKEN", "Bearer TOKEN" and a bare "TOKEN", and says which value to
// echo back: ics.v1 when offered, else exactly what the token came in.
func tokenFromProtocols(v string) (token, echo string) {
	parts := strings.Split(v, ",")
	offeredICS := false
	var others []string
	for _, p := range parts {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
		case p == command.Subprotocol:
			offeredICS = true
		default:
			others = append(others, p)
		}
	}
	if len(others) > 0 {
		raw := others[0]
		token = raw
		if t, ok := strings.CutPrefix(raw, "Bearer "); ok {
			token = strings.TrimSpace(t)
		}
		echo = raw
	}
	if offeredICS {
		echo = command.Subprotocol
	}
	return token, echo
}

func reject(status int, reason string) error {
	return ws.RejectConnectionError(ws.RejectionStatus(status), ws.RejectionReason(reason))
}

// checkHandshake runs after all headers were read and decides whether the
// upgrade may proceed; a rejection is written by the upgrader.
func (l *loop) checkHandshake() error {
	s := l.srv
	if s.draining.Load() {
		return reject(http.StatusServiceUnavailable, "server is draining")
	}
	if s.cfg.MaxConns > 0 && s.wsConns.Load() >= int64(s.cfg.MaxConns) {
		return reject(http.StatusServiceUnavailable, "server is full")
	}
	if !s.OriginAllowed(l.hs.origin, l.hs.host) {
		return reject(http.StatusForbidden, "origin not allowed")
	}
	token := l.hs.token
	if token == "" && len(l.hs.query) > 0 {
		if q, err := url.ParseQuery(string(l.hs.query)); err == nil {
			token = q.Get("token")
		}
	}
	if token == "" {
		return reject(http.StatusUnauthorized, "missing token")
	}
	claims, err := s.issuer.Verify(token)
	if err != nil {
		return reject(http.StatusUnauthorized, "invalid or expired token")
	}
	l.hs.claims = claims
	return nil
}

// OriginAllowed: no Origin (not a browser), the server's own host, or a
// configured origin. /ws and /auth both apply it.
func (s *Server) OriginAllowed(origin, host string) bool {
	if origin == "" {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || o == origin {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// upgrade handles a GET /ws whose header block is head (borrowed from
// gnet's buffer). On success the 101 response is held until the nickname's
// shard answers the claim (Claimed, session.go).
func (c *conn) upgrade(head []byte) {
	l := c.ls
	l.hs = handshake{}
	l.hsIn.Reset(head)
	l.hsOut.Reset()
	_, err := l.up.Upgrade(readWriter{&l.hsIn, &l.hsOut})
	_, _ = c.gc.Discard(len(head))
	if err != nil {
		l.stats.Rejected.Add(1)
		_, _ = c.gc.Write(l.hsOut.Bytes())
		c.drop()
		return
	}
	c.ext().upgradeResp = bytes.Clone(l.hsOut.Bytes())
	cl := l.hs.claims
	t := tokenRef{nick: cl.Nickname, jti: cl.ID, exp: cl.Expires}
	c.s = session{phase: phClaiming, nick: cl.Nickname, tokens: []tokenRef{t}}
	c.counted = true
	c.srv.wsConns.Add(1)
	c.ls.stats.WSConns.Add(1)
	c.claimNick(cl.Nickname, cl.ID, t)
}
