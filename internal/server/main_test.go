package server_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/server"
	"github.com/ics-chat/ics/internal/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, servertest.LeakOptions()...)
}

// start runs a real server on a loopback port 0 and stops it (checking that
// it stops cleanly) when the test ends.
func start(t testing.TB, tweak func(*config.Config)) *server.Server {
	t.Helper()
	return servertest.Start(t, tweak)
}
