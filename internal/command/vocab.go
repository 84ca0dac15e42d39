package command

// This file declares the protocol's vocabulary in one place: the command
// types a client sends, the frame types the server sends and the codes its
// `error` frames carry. docs/PROTOCOL.md documents them, and
// TestProtocolDocMatchesCode keeps the two in step.

// Server frame types.
const (
	FrameMessage = "message"
	FrameJoined  = "joined"
	FrameLeft    = "left"
	FrameNick    = "nick"
	FrameUsers   = "users"
	FrameRooms   = "rooms"
	FrameError   = "error"
	// FrameHistory answers the `history` command.
	FrameHistory = "history"
)

// FrameTypes are every server frame type, in the order docs/PROTOCOL.md
// lists them.
var FrameTypes = []string{FrameMessage, FrameJoined, FrameLeft, FrameNick, FrameUsers, FrameRooms, FrameError, FrameHistory}

// CommandTypes are every client command type, in Type order.
func CommandTypes() []string { return typeNames[1:] }

// ErrorCodes are every code an `error` frame can carry.
var ErrorCodes = []string{
	ErrBadJSON, ErrUnknownType, ErrBadArgs, ErrInvalidName, ErrRoomNotFound, ErrRoomExists,
	ErrAlreadyInRoom, ErrNicknameTaken, ErrBodyTooLong, ErrRateLimited, ErrServerBusy, ErrInternal,
	ErrReservedName,
}

// HTTPErrorCodes are the codes only HTTP error bodies carry (never an
// `error` frame): refusals before or instead of a WebSocket session.
var HTTPErrorCodes = []string{
	ErrDraining, ErrTooManyConns, ErrTooManyConnsFromAddr, ErrTooManyClaims, ErrOriginNotAllowed,
	ErrTokenRevoked, ErrBadRequest, ErrMethodNotAllowed, ErrTooManyRequests, ErrHeaderTooLarge,
	ErrBodyTooLarge, ErrLengthRequired, ErrBusy, ErrUnavailable,
}

// The endpoints and the WebSocket subprotocol a client uses.
const (
	// Subprotocol is offered first in Sec-WebSocket-Protocol (the token
	// follows it) and echoed by the server.
	Subprotocol = "ics.v1"
	// PathWS is the WebSocket endpoint; PathAuth issues tokens.
	PathWS   = "/ws"
	PathAuth = "/auth"
)
