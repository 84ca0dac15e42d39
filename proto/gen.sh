#!/bin/sh
# Regenerates the Go code for every .proto under proto/ into OUT (default:
# proto/, next to the .proto files). Run through `go generate ./proto/...`.
# Needs protoc (Debian: apt-get install protobuf-compiler) and Go; the
# plugins are pinned in proto/bin/.
set -eu
cd "$(dirname "$0")"
out="${1:-.}"
mkdir -p "$out"
protoc -I . -I /usr/include \
  --plugin=protoc-gen-go="$PWD/bin/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$PWD/bin/protoc-gen-go-grpc" \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  ics/admin/v1/admin.proto
