package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is what a verified token says.
type Claims struct {
	Nickname string
	ID       string // unique token id (jti)
	Expires  time.Time
}

// Issuer signs and verifies tokens with one HS256 key.
type Issuer struct {
	key    []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// ErrInvalidToken is wrapped by every verification failure.
var ErrInvalidToken = errors.New("invalid token")

// NewIssuer returns an Issuer. An empty key is replaced by 32 random bytes;
// generated reports whether that happened, so the caller can warn that tokens
// will not survive a restart.
func NewIssuer(key string, ttl time.Duration) (iss *Issuer, generated bool, err error) {
	k := []byte(key)
	if len(k) == 0 {
		k = make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, false, fmt.Errorf("generate token key: %w", err)
		}
		generated = true
	}
	if ttl <= 0 {
		return nil, false, fmt.Errorf("token ttl must be > 0, got %s", ttl)
	}
	return &Issuer{
		key: k,
		ttl: ttl,
		now: time.Now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		),
	}, generated, nil
}

// Issue signs a new token for nickname with a fresh id.
func (i *Issuer) Issue(nickname string) (token string, c Claims, err error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Claims{}, fmt.Errorf("generate token id: %w", err)
	}
	now := i.now()
	c = Claims{Nickname: nickname, ID: hex.EncodeToString(id[:]), Expires: now.Add(i.ttl).Truncate(time.Second)}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   nickname,
		ID:        c.ID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(c.Expires),
	})
	token, err = t.SignedString(i.key)
	if err != nil {
		return "", Claims{}, fmt.Errorf("sign token for %q: %w", nickname, err)
	}
	return token, c, nil
}

// Verify checks signature, algorithm and expiry and returns the claims.
func (i *Issuer) Verify(token string) (Claims, error) {
	var rc jwt.RegisteredClaims
	_, err := i.parser.ParseWithClaims(token, &rc, func(*jwt.Token) (any, error) { return i.key, nil })
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if rc.Subject == "" || rc.ID == "" || rc.ExpiresAt == nil {
		return Claims{}, fmt.Errorf("%w: missing sub, jti or exp", ErrInvalidToken)
	}
	return Claims{Nickname: rc.Subject, ID: rc.ID, Expires: rc.ExpiresAt.Time}, nil
}
