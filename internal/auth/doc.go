// Package auth issues and verifies the signed session tokens of the protocol
// (JWT, HS256): each names a nickname, has a unique id (jti) and an expiry.
//
// It owns only the signing key. It must never decide who holds a nickname:
// reservation, reconnect, takeover and revocation belong to the shard that
// owns the nickname (internal/shard); auth only says a token is authentic.
package auth
