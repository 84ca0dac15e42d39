package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	iss, gen, err := NewIssuer("k", time.Hour)
	if err != nil || gen {
		t.Fatalf("NewIssuer: %v generated=%v", err, gen)
	}
	tok, c, err := iss.Issue("alice")
	if err != nil {
		t.Fatal(err)
	}
	got, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.Nickname != "alice" || got.ID != c.ID || len(got.ID) != 32 || !got.Expires.Equal(c.Expires) {
		t.Fatalf("claims %+v, issued %+v", got, c)
	}
	_, c2, _ := iss.Issue("alice")
	if c2.ID == c.ID {
		t.Fatal("two tokens share an id")
	}
}

func TestVerifyRejects(t *testing.T) {
	iss, _, _ := NewIssuer("k", time.Hour)
	other, _, _ := NewIssuer("other-key", time.Hour)
	good, _, _ := iss.Issue("alice")
	foreign, _, _ := other.Issue("alice")
	expired := func() string {
		old, _, _ := NewIssuer("k", time.Hour)
		old.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
		tok, _, _ := old.Issue("alice")
		return tok
	}()
	none := func() string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Subject: "alice", ID: "x",
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return tok
	}()
	noJTI := func() string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "alice",
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString([]byte("k"))
		return tok
	}()
	for name, tok := range map[string]string{
		"other key":       foreign,
		"expired":         expired,
		"alg none":        none,
		"no jti":          noJTI,
		"garbage":         "not.a.token",
		"empty":           "",
		"tampered":        good[:len(good)-2] + "xx",
		"payload swapped": strings.Replace(good, strings.Split(good, ".")[1], strings.Split(foreign, ".")[1], 1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := iss.Verify(tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestGeneratedKey(t *testing.T) {
	a, gen, err := NewIssuer("", time.Hour)
	if err != nil || !gen {
		t.Fatalf("generated=%v err=%v", gen, err)
	}
	b, _, _ := NewIssuer("", time.Hour)
	tok, _, _ := a.Issue("alice")
	if _, err := b.Verify(tok); err == nil {
		t.Fatal("two random keys verify each other's tokens")
	}
	if _, _, err := NewIssuer("k", 0); err == nil {
		t.Fatal("zero ttl accepted")
	}
}
