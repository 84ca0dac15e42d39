package main

import (
	"os"

	"github.com/ics-chat/ics/internal/loadgen"
)

func main() {
	os.Exit(loadgen.Main(os.Args[1:], os.Stdout, os.Stderr))
}
