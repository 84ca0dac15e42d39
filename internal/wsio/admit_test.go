package wsio

import (
	"net/netip"
	"testing"
)

// Per-address limits count an IPv6 client by its /64 (one host usually has
// a whole /64) and an IPv4 or IPv4-mapped client by its address.
func TestAddrKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
		{"2001:db8:1:3::1", "2001:db8:1:3::"},
	}
	for _, tt := range tests {
		if got := AddrKey(netip.MustParseAddr(tt.in)); got.String() != tt.want {
			t.Errorf("AddrKey(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

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
