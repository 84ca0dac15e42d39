package server_test

import (
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/wstest"
)

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func asClose(err error, target **wstest.CloseError) bool { return errors.As(err, target) }

func asDial(err error, target **wstest.DialError) bool { return errors.As(err, target) }

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}
