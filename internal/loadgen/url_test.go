package loadgen_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/ics-chat/ics/internal/loadgen"
)

// -url takes the nodes of a cluster in any of the usual spellings, refuses
// a non-loopback node and makes the first node the -addr.
func TestURLFlag(t *testing.T) {
	tests := []struct {
		arg     string
		want    []string
		wantErr bool
	}{
		{"127.0.0.1:8081,127.0.0.1:8082", []string{"127.0.0.1:8081", "127.0.0.1:8082"}, false},
		{"http://127.0.0.1:8081/, ws://localhost:8082/ws", []string{"127.0.0.1:8081", "127.0.0.1:8082"}, false},
		{"127.0.0.1:8081,10.1.2.3:8080", nil, true},
		{"127.0.0.1", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			cfg := loadgen.DefaultConfig()
			fs := cfg.FlagSet("fanout", nil)
			if err := fs.Parse([]string{"-url", tt.arg}); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate("fanout")
			if tt.wantErr {
				if !errors.Is(err, loadgen.ErrUsage) {
					t.Fatalf("-url %q: err %v, want a usage error", tt.arg, err)
				}
				return
			}
			if err != nil || !slices.Equal(cfg.URLs, tt.want) || cfg.Addr != tt.want[0] {
				t.Fatalf("-url %q: urls %v addr %s err %v, want %v", tt.arg, cfg.URLs, cfg.Addr, err, tt.want)
			}
		})
	}
}
