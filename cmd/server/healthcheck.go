package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ics-chat/ics/internal/config"
)

// DefaultHealthcheckTimeout bounds one `server healthcheck` request; Docker's
// HEALTHCHECK has its own, longer, timeout around the whole command.
const DefaultHealthcheckTimeout = 3 * time.Second

// healthcheck GETs the server's /healthz and exits 0 on 200 and 1 otherwise.
// It exists because an image FROM scratch has no curl or wget for Docker's
// HEALTHCHECK. Without -url it finds the port the way the server does: from
// ICS_HTTP, else the default -http address.
func healthcheck(args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "URL to GET (default http://127.0.0.1:PORT/healthz, PORT from "+config.EnvName("http")+" or "+config.DefaultHTTPAddr+")")
	timeout := fs.Duration("timeout", DefaultHealthcheckTimeout, "request timeout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *url == "" {
		*url = defaultHealthURL(lookup)
	}
	// No proxy: a container's HTTP_PROXY must not route a loopback probe.
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(*url)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: GET %s: %s\n", *url, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "healthcheck: GET %s: %s\n", *url, resp.Status)
	return 0
}

// defaultHealthURL is /healthz on the loopback side of the -http address in
// the environment: a wildcard listener (":8080", "0.0.0.0:8080") answers on
// 127.0.0.1 too.
func defaultHealthURL(lookup func(string) (string, bool)) string {
	addr := config.DefaultHTTPAddr
	if v, ok := lookup(config.EnvName("http")); ok && v != "" {
		addr = v
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/healthz"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz"
}
