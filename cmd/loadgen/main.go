// Command loadgen is the ICS load generator; see internal/loadgen and
// "loadgen -h". Example:
//
//	loadgen fanout -addr 127.0.0.1:8080 -conns 1000 -rooms 10 -publishers 10 -rate 10 -size 100 -duration 30s
package main

import (
	"os"

	"github.com/ics-chat/ics/internal/loadgen"
)

func main() {
	os.Exit(loadgen.Main(os.Args[1:], os.Stdout, os.Stderr))
}
