#!/usr/bin/env bash
# Regenerates the protobuf Go code into a temporary directory and fails (exit
# 1) if it differs from the committed files. Installs Debian's
# protobuf-compiler when protoc is missing (needs root and apt).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v protoc >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sh gen.sh "$tmp"
status=0
while IFS= read -r f; do
  rel="${f#"$tmp"/}"
  if ! diff -u "$rel" "$f"; then
    echo "proto/check.sh: $rel is stale: run 'go generate ./proto/...' and commit" >&2
    status=1
  fi
done < <(find "$tmp" -name '*.go' -type f | sort)
# Generated files with no source left behind.
while IFS= read -r f; do
  [ -e "$tmp/$f" ] || { echo "proto/check.sh: $f has no .proto source" >&2; status=1; }
done < <(find . -name '*.pb.go' -type f | sed 's|^\./||' | sort)
[ "$status" -eq 0 ] && echo "proto/check.sh: generated code is up to date"
exit "$status"
