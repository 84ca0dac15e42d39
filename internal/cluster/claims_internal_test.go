package cluster

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A claim that lost a compare-and-set race looks again instead of failing
// the upgrade with 503: the errors are the ones nats.go returns from a
// single-replica bucket (10071) and from a replicated one (10164), directly
// (Create rewriting a deleted key) or wrapped (Update).
func TestCASConflict(t *testing.T) {
	r3 := &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant, Description: "wrong last sequence"}
	r1 := &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence: 7"}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"replicated bucket, raw (Create after a delete)", r3, true},
		{"replicated bucket, as Update wraps it", fmt.Errorf("%w: %w", r3, jetstream.ErrKeyRevisionMismatch), true},
		{"single replica, raw", r1, true},
		{"ErrKeyExists (Create of a live key)", fmt.Errorf("claim: %w", jetstream.ErrKeyExists), true},
		{"no error", nil, false},
		{"another API error", &jetstream.APIError{Code: 503, ErrorCode: jetstream.JSErrCodeJetStreamNotEnabled}, false},
		{"a timeout", errors.New("context deadline exceeded"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := casConflict(tt.err); got != tt.want {
				t.Fatalf("casConflict(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
