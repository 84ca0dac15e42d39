package command

// Error codes carried in `error` frames.
const (
	ErrBadJSON       = "bad_json"
	ErrUnknownType   = "unknown_type"
	ErrBadArgs       = "bad_args"
	ErrRoomNotFound  = "room_not_found"
	ErrRoomExists    = "room_exists"
	ErrNicknameTaken = "nickname_taken"
	ErrInvalidName   = "invalid_name"
	ErrBodyTooLong   = "body_too_long"
	ErrRateLimited   = "rate_limited"
	ErrAlreadyInRoom = "already_in_room"
	// ErrServerBusy answers a command the owning shard cannot queue now
	// (its inbox is over -shard-inbox); nothing was done, retry later.
	ErrServerBusy = "server_busy"
	// ErrInternal answers a command the server failed to carry out for
	// a reason of its own (it could not sign a token for setnick).
	ErrInternal = "internal"
	// ErrDraining answers HTTP requests (POST /auth) that would change
	// state while the server shuts down; it is never an `error` frame's.
	ErrDraining = "draining"
	// ErrReservedName answers /auth and setnick for a name no user may
	// hold (`system`, any case).
	ErrReservedName = "reserved_name"
)

// HTTP error codes (the "code" of an HTTP error body): refusals of /auth
// and of the /ws upgrade, and limits the socket layer enforces.
const (
	// ErrTokenRevoked: /ws with a token that was revoked (exit, kick).
	ErrTokenRevoked = "token_revoked"
	// ErrBadRequest: a request the server could not parse.
	ErrBadRequest = "bad_request"
	// ErrMethodNotAllowed: the path does not take the request's method.
	ErrMethodNotAllowed = "method_not_allowed"
	// ErrTooManyRequests: /auth rate limit per client address.
	ErrTooManyRequests = "too_many_requests"
	// ErrHeaderTooLarge, ErrBodyTooLarge, ErrLengthRequired: request
	// size limits of the event loops' HTTP reader.
	ErrHeaderTooLarge = "header_too_large"
	ErrBodyTooLarge   = "body_too_large"
	ErrLengthRequired = "length_required"
	// ErrBusy: too many plain HTTP requests in flight on the server.
	ErrBusy = "busy"
	// ErrUnavailable: /auth could not reserve the nickname (its shard or
	// the cluster did not answer).
	ErrUnavailable = "unavailable"

	// ErrTooManyConns: the server is at its socket budget (-max-sockets).
	ErrTooManyConns = "too_many_connections"
	// ErrTooManyConnsFromAddr: the client address (IPv6: its /64) has
	// -max-conns-per-ip sockets open.
	ErrTooManyConnsFromAddr = "too_many_connections_from_address"
	// ErrTooManyClaims: /auth refused because the client address (or the
	// whole server) holds too many nickname claims not yet used at /ws.
	ErrTooManyClaims = "too_many_claims"
	// ErrOriginNotAllowed: a browser Origin /ws would refuse.
	ErrOriginNotAllowed = "origin_not_allowed"
)

// Limits of history and recovery (v1.1); the frame types are in vocab.go.
const (
	// HistoryDefaultLimit is `limit` when a history command gives none.
	HistoryDefaultLimit = 50
	// HistoryMaxLimit is the largest `limit` a history command may ask.
	HistoryMaxLimit = 100
	// UsersMaxLimit is the most names one `users` reply carries (and the
	// default `limit` of listusers): a bigger room is listed in pages
	// (`after`), so a reply stays small however big the room.
	UsersMaxLimit = 1000
	// MaxEpochLen bounds the `epoch` argument (server epochs are shorter).
	MaxEpochLen = 64
)

// WebSocket opcodes (RFC 6455 §5.2), for the server's frame parser and
// encoder and for the load generator's client frames.
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// WebSocket close codes used by the server.
const (
	CloseNormal         = 1000
	CloseProtocolError  = 1002
	CloseUnsupported    = 1003
	CloseInvalidPayload = 1007
	CloseTooBig         = 1009
	CloseServiceRestart = 1012
	CloseKicked         = 4001
	CloseSlowConsumer   = 4008
	CloseReplaced       = 4409
	CloseRateLimited    = 4029
	ClosePingTimeout    = 4000
)

// CloseNoStatus (RFC 6455 §7.4.1) is never sent on the wire: a receiver
// reports it for a close frame that carried no code.
const CloseNoStatus = 1005

// CloseGoingAway (1001) is what the protocol lets a server send instead of
// ClosePingTimeout to a client that went silent; this server sends 4000,
// but a client (the load generator) must accept either.
const CloseGoingAway = 1001
