package shard

// Controls are the replies a shard sends to a connection through
// fanout.Batch.Control, in order with the frames for that connection. The
// connection's event loop handles them.

// ClaimResult answers Claim: the connection may complete its upgrade (OK) or
// must be refused with HTTP Status.
type ClaimResult struct {
	OK     bool
	Status int    // 409 nickname held by another token, 401 token revoked
	Reason string // human text for the refusal body
}

// PrepareResult answers Prepare: the target room is pinned (OK) or the
// command failed with Code.
type PrepareResult struct {
	Room string
	OK   bool
	Code string
	Msg  string
	ID   []byte
}

// Joined says the connection is now a member of Room, owned by Shard.
type Joined struct {
	Room  string
	Shard int
}

// NickResult answers SetNick: the new nickname is held (OK) or Code says why not.
type NickResult struct {
	OK   bool
	Nick string
	Code string
	Msg  string
}

// CloseOrder tells the connection to close with Code and Reason (kick 4001,
// takeover 4409).
type CloseOrder struct {
	Code   int
	Reason string
	// RevokeAll: revoke every token the connection used or was given
	// (kick), so none of them reconnects under any of its names.
	RevokeAll bool
}

// MoveOrder tells the connection its room is being deleted: it should
// switch to Room (global) as if it had asked to.
type MoveOrder struct {
	Room string
}
