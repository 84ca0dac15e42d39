#!/usr/bin/env bash
# Builds the static binaries bench/device/run.sh needs into bench/device/bin.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p bench/device/bin
export CGO_ENABLED=0
LD="-s -w"
go build -ldflags "$LD" -o bench/device/bin/server ./cmd/server
go build -ldflags "$LD" -o bench/device/bin/loadgen ./cmd/loadgen
go build -ldflags "$LD" -o bench/device/bin/gorillahub ./bench/cmd/gorillahub
go test -c -ldflags "$LD" -o bench/device/bin/bench.test ./bench
