package cluster_test

import (
	"context"
	"testing"
	"time"
)

func TestRegistryListsEveryNode(t *testing.T) {
	c := startCluster(t, 3)
	for i, s := range c.nodes {
		eventually(t, 10*time.Second, "registry of node "+s.Config().NodeID+" lists 3 nodes", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			recs, err := s.Cluster().Nodes(ctx)
			if err != nil || len(recs) != 3 {
				return false
			}
			for j, r := range recs {
				if r.ID != c.nodes[j].Config().NodeID || r.HTTP != c.addr(j) {
					return false
				}
			}
			return true
		})
		_ = i
	}
}
