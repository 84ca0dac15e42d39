package deploy

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ics-chat/ics/internal/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, servertest.LeakOptions()...)
}
