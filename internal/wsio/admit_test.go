package wsio

import "testing"

// The automatic socket budget leaves min(256, limit/4) descriptors and the
// ones already open free, and never drops to zero.
func TestBudgetFor(t *testing.T) {
	tests := []struct {
		limit uint64
		open  int
		want  int
	}{
		{20000, 20, 20000 - 256 - 20},
		{1024, 12, 1024 - 256 - 12},
		{64, 11, 64 - 16 - 11},
		{16, 20, 1},
	}
	for _, tt := range tests {
		if got := budgetFor(tt.limit, tt.open); got != tt.want {
			t.Errorf("budgetFor(%d, %d) = %d, want %d", tt.limit, tt.open, got, tt.want)
		}
	}
}
