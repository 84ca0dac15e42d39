package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.AdminAddr != "127.0.0.1:9090" || c.MaxFrameBytes != 64<<10 || c.MaxBacklogBytes != 1<<20 ||
		c.CommandRate != 20 || c.CommandBurst != 40 || c.PingInterval != 25*time.Second || c.TokenTTL != 24*time.Hour {
		t.Fatalf("defaults differ from the contract: %+v", c)
	}
}

func TestFlagsEnvAndPrecedence(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(Config) bool
	}{
		{"flag", []string{"-shards", "3"}, nil, func(c Config) bool { return c.Shards == 3 }},
		{"env", nil, map[string]string{"ICS_SHARDS": "5", "ICS_JWT_KEY": "s3cret"}, func(c Config) bool { return c.Shards == 5 && c.JWTKey == "s3cret" }},
		{"flag beats env", []string{"-shards", "3"}, map[string]string{"ICS_SHARDS": "5"}, func(c Config) bool { return c.Shards == 3 }},
		{"duration and origins", []string{"-token-ttl", "1h", "-allowed-origins", "https://a, https://b"}, nil,
			func(c Config) bool {
				return c.TokenTTL == time.Hour && len(c.AllowedOrigins) == 2 && c.AllowedOrigins[1] == "https://b"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			c.RegisterFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }); err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

func TestBadEnvNamesVariable(t *testing.T) {
	c := Default()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	_ = fs.Parse(nil)
	err := ApplyEnv(fs, func(k string) (string, bool) {
		if k == "ICS_MAX_FRAME" {
			return "lots", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), "ICS_MAX_FRAME") || !strings.Contains(err.Error(), "lots") {
		t.Fatalf("error %v does not name the variable and value", err)
	}
}

func TestValidateNamesEachBadSetting(t *testing.T) {
	c := Default()
	c.Shards, c.MaxBodyBytes, c.PingInterval = 0, 1<<20, 0
	err := c.Validate()
	for _, want := range []string{"-shards", "-max-body", "-ping-interval"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %s", err, want)
		}
	}
}

func TestHistorySettings(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" = valid
		want    func(Config) bool
	}{
		{"defaults", nil, "", func(c Config) bool {
			return c.HistorySize == 100 && c.HistoryTTL == 10*time.Minute && c.HistoryMaxBytes == 64<<20
		}},
		{"off", []string{"-history-size", "0"}, "", func(c Config) bool { return c.HistorySize == 0 }},
		{"set", []string{"-history-size", "7", "-history-ttl", "2s", "-history-max-bytes", "4096"}, "", func(c Config) bool {
			return c.HistorySize == 7 && c.HistoryTTL == 2*time.Second && c.HistoryMaxBytes == 4096
		}},
		{"negative size", []string{"-history-size", "-1"}, "-history-size", nil},
		{"huge size", []string{"-history-size", "2000000"}, "-history-size", nil},
		{"zero ttl", []string{"-history-ttl", "0s"}, "-history-ttl", nil},
		{"zero bytes", []string{"-history-max-bytes", "0"}, "-history-max-bytes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			c.RegisterFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("valid settings refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v does not name %s", err, tt.wantErr)
			case tt.want != nil && !tt.want(c):
				t.Fatalf("config %+v", c)
			}
		})
	}
}
