package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/ics-chat/ics/internal/servertest"
)

func TestHealthcheckCommand(t *testing.T) {
	srv := servertest.Start(t, nil)
	addr := srv.Addr().String()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantOut  string
	}{
		{"healthy", []string{"-url", "http://" + addr + "/healthz"}, nil, 0, "200 OK"},
		{"address from ICS_HTTP", nil, map[string]string{"ICS_HTTP": addr}, 0, "200 OK"},
		{"wildcard ICS_HTTP probes loopback", nil, map[string]string{"ICS_HTTP": "0.0.0.0:" + port(t, addr)}, 0, "http://127.0.0.1:" + port(t, addr) + "/healthz"},
		{"not 200", []string{"-url", "http://" + addr + "/no-such-route"}, nil, 1, "404"},
		{"nothing listening", []string{"-url", "http://" + closed + "/healthz"}, nil, 1, "refused"},
		{"bad flag", []string{"-nope"}, nil, 2, "-nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			var out, errb bytes.Buffer
			code := healthcheck(tt.args, lookup, &out, &errb)
			all := out.String() + errb.String()
			if code != tt.wantCode || !strings.Contains(all, tt.wantOut) {
				t.Fatalf("exit %d, want %d with %q; output:\n%s", code, tt.wantCode, tt.wantOut, all)
			}
		})
	}
}

func TestDefaultHealthURL(t *testing.T) {
	tests := []struct{ env, want string }{
		{"", "http://127.0.0.1:8080/healthz"},
		{":9000", "http://127.0.0.1:9000/healthz"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz"},
		{"[::]:8080", "http://127.0.0.1:8080/healthz"},
		{"10.1.2.3:8080", "http://10.1.2.3:8080/healthz"},
	}
	for _, tt := range tests {
		lookup := func(k string) (string, bool) { return tt.env, k == "ICS_HTTP" && tt.env != "" }
		if got := defaultHealthURL(lookup); got != tt.want {
			t.Errorf("ICS_HTTP=%q: %s, want %s", tt.env, got, tt.want)
		}
	}
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
