package loadgen

import "sync/atomic"

// ChurnStats counts reconnect cycles of a churn run.
type ChurnStats struct {
	Cycles        int64            `json:"cycles"`         // connect, join, drop, re-auth completed
	Failures      int64            `json:"failures"`       // cycles that failed for another reason
	ReauthRefused int64            `json:"reauth_refused"` // re-auth of a dropped nickname refused (nickname not freed)
	Errors        map[string]int64 `json:"errors,omitempty"`

	cycles, failures, refused atomic.Int64
}
