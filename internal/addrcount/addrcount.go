// Package addrcount counts what clients hold (sockets, unused nickname
// claims) per client address and in total, under a cap for each, so one
// address cannot take more than its share of a server-wide budget.
//
// It owns only the counts; it never decides what is counted or when. Key is
// the one definition of a "client address": IPv4 as is, IPv6 by its /64.
package addrcount

import (
	"net/netip"
	"sync"
)

// Key maps a client address to what per-address limits count: IPv4 (and
// IPv4-mapped IPv6) as is, other IPv6 by its /64 prefix (one subscriber's
// allocation, so a /64 cannot pose as 2^64 clients).
func Key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// Refusal says which cap refused a Take.
type Refusal uint8

const (
	OK      Refusal = iota // counted
	Total                  // the total cap is reached
	PerAddr                // the address's cap is reached
)

// Counter is safe for use by several goroutines.
type Counter struct {
	mu      sync.Mutex
	max     int // 0 = no total cap
	perAddr int // 0 = no per-address cap
	total   int
	byAddr  map[netip.Addr]int
}

// New returns a Counter with caps max in total and perAddr per address
// (0: no cap).
func New(max, perAddr int) *Counter {
	return &Counter{max: max, perAddr: perAddr, byAddr: map[netip.Addr]int{}}
}

// Take counts one more for key, or says which cap refuses it.
func (c *Counter) Take(key netip.Addr) Refusal {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.total >= c.max {
		return Total
	}
	if c.perAddr > 0 && c.byAddr[key] >= c.perAddr {
		return PerAddr
	}
	c.total++
	c.byAddr[key]++
	return OK
}

// Give uncounts one Take of key accepted.
func (c *Counter) Give(key netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if n := c.byAddr[key] - 1; n > 0 {
		c.byAddr[key] = n
	} else {
		delete(c.byAddr, key)
	}
}

// Held is the total counted now.
func (c *Counter) Held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
