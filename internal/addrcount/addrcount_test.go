package addrcount

import (
	"net/netip"
	"testing"
)

// Per-address limits count an IPv6 client by its /64 (one host usually has
// a whole /64) and an IPv4 or IPv4-mapped client by its address.
func TestKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
		{"2001:db8:1:3::1", "2001:db8:1:3::"},
	}
	for _, tt := range tests {
		if got := Key(netip.MustParseAddr(tt.in)); got.String() != tt.want {
			t.Errorf("Key(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// Each cap refuses on its own, and a Give makes room again.
func TestCounterCaps(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	tests := []struct {
		name         string
		max, perAddr int
		takes        []netip.Addr
		want         []Refusal
	}{
		{"per-address cap", 0, 2, []netip.Addr{a, a, a, b}, []Refusal{OK, OK, PerAddr, OK}},
		{"total cap", 3, 0, []netip.Addr{a, b, a, b}, []Refusal{OK, OK, OK, Total}},
		{"total before per-address", 2, 1, []netip.Addr{a, b, a}, []Refusal{OK, OK, Total}},
		{"no caps", 0, 0, []netip.Addr{a, a, a, a}, []Refusal{OK, OK, OK, OK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.max, tt.perAddr)
			held := 0
			for i, k := range tt.takes {
				if got := c.Take(k); got != tt.want[i] {
					t.Fatalf("take %d (%s) = %d, want %d", i, k, got, tt.want[i])
				} else if got == OK {
					held++
				}
			}
			if c.Held() != held {
				t.Fatalf("held %d, want %d", c.Held(), held)
			}
			c.Give(tt.takes[0])
			if got := c.Take(tt.takes[0]); got != OK {
				t.Fatalf("after a Give, take = %d, want OK", got)
			}
		})
	}
}
