#!/usr/bin/env bash
# Cross-node capacity: the highest dense fan-out rate (10 rooms x 100, every
# room's members split over the nodes) that holds p99 <= 50 ms with nothing
# lost, for one node and for a two-node cluster, found by `loadgen sweep`
# (offered load x1.4 per step until a step fails). Same session, same
# machine (servers, embedded NATS and the generator share the cores).
# Writes into bench/results/cluster-sweep/ (or $OUT). Loopback only; every
# run is bounded. Server CPU is read from /proc for every server process.
set -u
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench/results/cluster-sweep}"
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
SHAPE="-conns 1000 -rooms 10 -publishers 100 -rate ${RATE:-0.25} -step 1.4 -max-steps ${STEPS:-10} -size 100 -duration 10s -warmup ${WARMUP:-4s} -max-p99 50ms"
S="/tmp/ics-bench-server -admin= -jwt-key bench-key-0123456789abcdef0123456789 -log-level warn ${SERVER_FLAGS:-}"
PEERS=nats://127.0.0.1:16341,nats://127.0.0.1:16342

run() { # name, loadgen target, server commands...
  local name=$1 target=$2; shift 2
  local pids=() i=0
  for srv in "$@"; do
    i=$((i + 1))
    $srv > "$OUT/$name.server$i.log" 2>&1 & pids+=($!)
  done
  for a in ${target//,/ }; do waitready "$a" || { echo "$name: $a not ready" >&2; kill "${pids[@]}"; return; }; done
  { echo "\$ loadgen sweep -url $target $SHAPE"; uptime; } > "$OUT/$name.txt"
  local c0; c0=$(cpu "${pids[@]}")
  timeout 600 /tmp/ics-bench-loadgen sweep -url "$target" $SHAPE -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1
  echo "exit status $?" >> "$OUT/$name.txt"
  local c1; c1=$(cpu "${pids[@]}")
  echo "server CPU seconds over the whole sweep (all server processes, incl. embedded NATS): $(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}')" >> "$OUT/$name.txt"
  for a in ${target//,/ }; do
    curl -s "http://$a/metrics" | grep -E '^ics_cluster_messages_(out|in)_total|^ics_remote_gaps_total' >> "$OUT/$name.txt"
  done
  uptime >> "$OUT/$name.txt"
  kill "${pids[@]}"; sleep 1; kill -9 "${pids[@]}" 2>/dev/null; wait 2>/dev/null
}
[ "${ONLY:-}" = two ] || run one-node 127.0.0.1:18190 "$S -http 127.0.0.1:18190"
[ "${ONLY:-}" = one ] || run two-nodes 127.0.0.1:18191,127.0.0.1:18192 \
  "$S -http 127.0.0.1:18191 -node-id s1 -cluster-listen 127.0.0.1:16341 -cluster-peers $PEERS" \
  "$S -http 127.0.0.1:18192 -node-id s2 -cluster-listen 127.0.0.1:16342 -cluster-peers $PEERS"
uptime > "$OUT/DONE"
