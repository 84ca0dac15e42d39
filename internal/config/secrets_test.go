package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodKey = "0123456789abcdef0123456789abcdef" // 32 bytes

// parse runs the server's flag set over args and env, then Resolve.
func parse(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	c := Default()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	return c, c.Resolve()
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecretFiles(t *testing.T) {
	keyNL := writeFile(t, goodKey+"\n")
	keyCRLF := writeFile(t, goodKey+"\r\n")
	keyInnerNL := writeFile(t, goodKey+"\n\n")
	short := writeFile(t, "shortkey\n")
	empty := writeFile(t, "\n")
	tok := writeFile(t, "admin-secret\n")
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantKey string
		wantTok string
		wantErr []string // substrings of the error; nil = no error
	}{
		{"key file, newline trimmed", []string{"-jwt-key-file", keyNL}, nil, goodKey, "", nil},
		{"key file, CRLF trimmed", []string{"-jwt-key-file", keyCRLF}, nil, goodKey, "", nil},
		{"only one newline trimmed", []string{"-jwt-key-file", keyInnerNL}, nil, goodKey + "\n", "", nil},
		{"key file from env", nil, map[string]string{"ICS_JWT_KEY_FILE": keyNL}, goodKey, "", nil},
		{"key flag and key file", []string{"-jwt-key", goodKey, "-jwt-key-file", keyNL}, nil, "", "", []string{"-jwt-key", "-jwt-key-file", "exclude"}},
		{"key env and key file flag", []string{"-jwt-key-file", keyNL}, map[string]string{"ICS_JWT_KEY": goodKey}, "", "", []string{"ICS_JWT_KEY", "exclude"}},
		{"short key file", []string{"-jwt-key-file", short}, nil, "", "", []string{short, "8-byte", "at least 32"}},
		{"empty key file", []string{"-jwt-key-file", empty}, nil, "", "", []string{empty, "empty"}},
		{"missing key file", []string{"-jwt-key-file", missing}, nil, "", "", []string{"-jwt-key-file", missing}},
		{"admin token file", []string{"-admin-token-file", tok}, nil, "", "admin-secret", nil},
		{"admin token file from env", nil, map[string]string{"ICS_ADMIN_TOKEN_FILE": tok}, "", "admin-secret", nil},
		{"admin token and file", []string{"-admin-token", "x", "-admin-token-file", tok}, nil, "", "", []string{"-admin-token", "-admin-token-file", "exclude"}},
		{"both files", []string{"-jwt-key-file", keyNL, "-admin-token-file", tok}, nil, goodKey, "admin-secret", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.args, tt.env)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.JWTKey != tt.wantKey || c.AdminToken != tt.wantTok {
					t.Fatalf("key %q token %q, want %q %q", c.JWTKey, c.AdminToken, tt.wantKey, tt.wantTok)
				}
				if err := c.Validate(); err != nil {
					t.Fatalf("resolved config does not validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; key %q token %q", c.JWTKey, c.AdminToken)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestJWTKeyLength(t *testing.T) {
	tests := []struct {
		key     string
		wantErr string
	}{
		{"", ""}, // random key
		{goodKey, ""},
		{goodKey[:31], "-jwt-key is 31 bytes"},
		{"k", "-jwt-key is 1 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			c := Default()
			c.JWTKey = tt.key
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "at least 32") {
				t.Fatalf("error %v, want %q and the minimum", err, tt.wantErr)
			}
		})
	}
}

// A key file that was never read must not fall back to a random key.
func TestValidateRefusesUnreadKeyFile(t *testing.T) {
	c := Default()
	c.JWTKeyFile = "/run/secrets/jwt_key"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "/run/secrets/jwt_key") {
		t.Fatalf("error %v", err)
	}
}

func TestAdminAddrWithoutHost(t *testing.T) {
	tok := writeFile(t, "tok")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no token: loopback", []string{"-admin", ":9090"}, "127.0.0.1:9090"},
		{"token: every interface", []string{"-admin", ":9090", "-admin-token", "t"}, ":9090"},
		{"token file: every interface", []string{"-admin", ":9090", "-admin-token-file", tok}, ":9090"},
		{"insecure: every interface", []string{"-admin", ":9090", "-admin-insecure"}, ":9090"},
		{"explicit host kept", []string{"-admin", "0.0.0.0:9090"}, "0.0.0.0:9090"},
		{"disabled stays disabled", []string{"-admin", ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.AdminAddr != tt.want {
				t.Fatalf("admin %q, want %q", c.AdminAddr, tt.want)
			}
		})
	}
}
