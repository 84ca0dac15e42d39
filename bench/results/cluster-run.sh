#!/usr/bin/env bash
# Cross-node dense fan-out: the same load against one node and against a
# two-node cluster (every room's members split over both nodes), in one
# session on the 2-core development machine (servers, embedded NATS and the
# generator share the cores). Writes into bench/results/cluster/ (or $OUT).
# Loopback only; every run is bounded. Server CPU is read from /proc for
# every server process of a run.
set -u
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench/results/cluster}"
RATE="${RATE:-2}"
mkdir -p "$OUT"
go build -o /tmp/ics-bench-server ./cmd/server
go build -o /tmp/ics-bench-loadgen ./cmd/loadgen
ulimit -n 20000
cpu() { # total user+system seconds of the given pids
  local t=0
  for p in "$@"; do t=$(awk -v t="$t" '{print t + ($14 + $15) / 100}' "/proc/$p/stat"); done
  echo "$t"
}
waitready() { for _ in $(seq 150); do curl -sf "http://$1/readyz" >/dev/null && return 0; sleep 0.2; done; return 1; }
SHAPE="-conns 1000 -rooms 10 -publishers 100 -rate $RATE -size 100 -duration 20s -warmup 3s -max-p99 50ms"
S="/tmp/ics-bench-server -admin= -jwt-key bench-key-0123456789abcdef0123456789 ${SERVER_FLAGS:-}"
PEERS=nats://127.0.0.1:16331,nats://127.0.0.1:16332

run() { # name, loadgen target flag, server commands...
  local name=$1 target=$2; shift 2
  local pids=() i=0
  for srv in "$@"; do
    i=$((i + 1))
    $srv > "$OUT/$name.server$i.log" 2>&1 & pids+=($!)
  done
  for a in ${target//,/ }; do waitready "$a" || { echo "$name: $a not ready" >&2; kill "${pids[@]}"; return; }; done
  { echo "\$ loadgen fanout -url $target $SHAPE"; uptime; } > "$OUT/$name.txt"
  local c0; c0=$(cpu "${pids[@]}")
  timeout 300 /tmp/ics-bench-loadgen fanout -url "$target" $SHAPE -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1
  echo "exit status $?" >> "$OUT/$name.txt"
  local c1; c1=$(cpu "${pids[@]}")
  echo "server CPU seconds (all server processes of the run, incl. embedded NATS): $(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}')" >> "$OUT/$name.txt"
  for a in ${target//,/ }; do
    curl -s "http://$a/metrics" | grep -E '^ics_cluster_messages_(out|in)_total' >> "$OUT/$name.txt"
  done
  kill "${pids[@]}"; sleep 1; kill -9 "${pids[@]}" 2>/dev/null; wait 2>/dev/null
}
[ -n "${SKIP_ONE:-}" ] || run one-node 127.0.0.1:18180 "$S -http 127.0.0.1:18180"
run two-nodes 127.0.0.1:18181,127.0.0.1:18182 \
  "$S -http 127.0.0.1:18181 -node-id b1 -cluster-listen 127.0.0.1:16331 -cluster-peers $PEERS" \
  "$S -http 127.0.0.1:18182 -node-id b2 -cluster-listen 127.0.0.1:16332 -cluster-peers $PEERS"
uptime > "$OUT/DONE"
