package wsio

import (
	"errors"
	"net/http"

	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/shard"
)

// Answers decided off the loop (a cluster goroutine, the signer), handed to
// the connection's loop as fanout events, like a shard's.
type (
	claimAnswer struct {
		c   *conn
		err error
	}
	nickAnswer struct {
		c    *conn
		nick string
		err  error
	}
	prepareAnswer struct {
		c    *conn
		room string
		id   []byte
		err  error
	}
	errorAnswer struct {
		c         *conn
		code, msg string
		id        []byte
	}
	signedAnswer struct {
		c     *conn
		name  string
		t     tokenRef
		token string
		err   error
	}
)

func (a claimAnswer) Deliver()   { a.c.Claimed(a.err) }
func (a nickAnswer) Deliver()    { a.c.NickSet(a.nick, a.err) }
func (a prepareAnswer) Deliver() { a.c.Prepared(a.room, a.id, a.err) }
func (a errorAnswer) Deliver()   { a.c.sendError(a.code, a.msg, a.id) }
func (a signedAnswer) Deliver()  { a.c.signed(a.name, a.t, a.token, a.err) }

// errClusterUnreachable: the cluster did not say in time whether a room
// exists on another node.
var errClusterUnreachable = errors.New("cluster unreachable, retry")

// The mapping from domain errors (shard's, cluster's) to the wire: the
// one place that picks HTTP statuses and error codes for them.

// claimRefusal is the HTTP refusal of an upgrade whose nickname claim failed.
func claimRefusal(err error, nick string) (status int, code, reason string) {
	switch {
	case errors.Is(err, shard.ErrTokenRevoked):
		return http.StatusUnauthorized, command.ErrTokenRevoked, "token revoked"
	case errors.Is(err, shard.ErrNicknameTaken), errors.Is(err, cluster.ErrTaken):
		return http.StatusConflict, command.ErrNicknameTaken, "nickname " + nick + " is in use"
	default:
		return http.StatusServiceUnavailable, command.ErrServerBusy, "cluster busy or unreachable, retry"
	}
}

// prepareRefusal is the error frame of a switch whose target was refused.
func prepareRefusal(err error, room string) (code, msg string) {
	switch {
	case errors.Is(err, shard.ErrRoomExists):
		return command.ErrRoomExists, "room " + room + " already exists"
	case errors.Is(err, shard.ErrRoomNotFound):
		return command.ErrRoomNotFound, "no room named " + room
	case errors.Is(err, errClusterUnreachable):
		return command.ErrServerBusy, err.Error()
	default:
		return command.ErrServerBusy, "server busy, retry"
	}
}

// nickRefusal is the error frame of a setnick whose name was refused.
func nickRefusal(err error, nick string) (code, msg string) {
	if errors.Is(err, shard.ErrNicknameTaken) || errors.Is(err, cluster.ErrTaken) {
		return command.ErrNicknameTaken, "nickname " + nick + " is in use"
	}
	return command.ErrServerBusy, "server busy, retry"
}
