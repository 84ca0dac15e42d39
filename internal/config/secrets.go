package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
)

// MinJWTKeyBytes is the shortest HS256 key accepted. RFC 7518 §3.2 asks for
// a key at least as long as the hash (256 bits); a short key can be brute
// forced offline from any one token, and then anyone can mint tokens.
const MinJWTKeyBytes = 32

// registerSecretFlags binds the file forms of the secrets. A flag value is
// visible to every user of the host in /proc/PID/cmdline; a file (a Docker
// or Kubernetes secret mount) is not.
func (c *Config) registerSecretFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.JWTKeyFile, "jwt-key-file", c.JWTKeyFile, "read the HS256 token key from this file (one trailing newline is trimmed; excludes -jwt-key); keeps the key off the command line")
	fs.StringVar(&c.AdminTokenFile, "admin-token-file", c.AdminTokenFile, "read the admin bearer token from this file (one trailing newline is trimmed; excludes -admin-token)")
}

// Resolve finishes a parsed configuration: it reads -jwt-key-file and
// -admin-token-file into JWTKey and AdminToken, and binds an -admin address
// without a host (":9090") to loopback unless an admin token (or
// -admin-insecure) allows every interface. Call it after flags and
// environment are applied and before Validate.
func (c *Config) Resolve() error {
	var errs []error
	if err := readSecret(&c.JWTKey, c.JWTKeyFile, "jwt-key"); err != nil {
		errs = append(errs, err)
	} else if c.JWTKeyFile != "" && len(c.JWTKey) < MinJWTKeyBytes {
		errs = append(errs, fmt.Errorf("-jwt-key-file %s holds a %d-byte key; an HS256 key needs at least %d bytes (e.g. head -c 32 /dev/urandom | base64 > %s)",
			c.JWTKeyFile, len(c.JWTKey), MinJWTKeyBytes, c.JWTKeyFile))
	}
	if err := readSecret(&c.AdminToken, c.AdminTokenFile, "admin-token"); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.AdminAddr = c.resolveAdminAddr()
	return nil
}

// readSecret sets *dst from path, the -NAME-file flag. It refuses a file
// that is empty (a silent random key would break every other node) and a
// value also given directly (which one wins would be a guess).
func readSecret(dst *string, path, name string) error {
	if path == "" {
		return nil
	}
	if *dst != "" {
		return fmt.Errorf("-%s (%s) and -%s-file (%s) exclude each other: give the secret once", name, EnvName(name), name, EnvName(name+"-file"))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-%s-file: %w", name, err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return fmt.Errorf("-%s-file %s is empty", name, path)
	}
	*dst = s
	return nil
}

// resolveAdminAddr binds a host-less admin address to loopback when nothing
// would protect it on every interface, so one image serves both cases: the
// admin port is reachable from outside only once a token is set.
func (c *Config) resolveAdminAddr() string {
	host, port, err := net.SplitHostPort(c.AdminAddr)
	if err != nil || host != "" || c.AdminToken != "" || c.AdminInsecure {
		return c.AdminAddr
	}
	return net.JoinHostPort("127.0.0.1", port)
}
