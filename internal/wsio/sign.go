package wsio

import (
	"sync"

	"github.com/ics-chat/ics/internal/auth"
)

// maxSigning bounds the setnick tokens being signed at once; past it a
// setnick is answered server_busy.
const maxSigning = 256

// signer signs setnick tokens off the event loops: HMAC signing and the
// token id's crypto/rand are work a loop would otherwise take from every
// other connection it serves. The token reaches the connection's loop as
// an event (signedAnswer), in order with its frames; commands the client
// sends meanwhile queue behind the setnick, so replies keep their order.
type signer struct {
	issuer *auth.Issuer
	sem    chan struct{}
	wg     sync.WaitGroup
}

func newSigner(iss *auth.Issuer) *signer {
	return &signer{issuer: iss, sem: make(chan struct{}, maxSigning)}
}

// sign starts signing a token for name and hands it to c.signed on c's
// loop. It never blocks; false when maxSigning signatures are in flight.
func (s *signer) sign(c *conn, name string) bool {
	select {
	case s.sem <- struct{}{}:
	default:
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		token, cl, err := s.issuer.Issue(name)
		<-s.sem
		c.later(signedAnswer{c: c, name: name, t: tokenRef{nick: name, jti: cl.ID, exp: cl.Expires}, token: token, err: err})
	}()
	return true
}

// wait blocks until no signature is in flight.
func (s *signer) wait() { s.wg.Wait() }
