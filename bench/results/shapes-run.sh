#!/usr/bin/env bash
# The issue 12 / issue 9 shapes on the 2-core development machine, one
# session, server and generator sharing the cores: one room of 1,000 at
# 200k deliveries/s, then the dense 10 rooms x 100 at 1M deliveries/s five
# times in a row; each with -max-p99 50ms. Server CPU per delivery comes
# from /proc (-server-pid). Writes into bench/results/shapes/ (or $OUT).
# Loopback only; every run is bounded.
set -u
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench/results/shapes}"
mkdir -p "$OUT"
go build -o /tmp/ics-bench-server ./cmd/server
go build -o /tmp/ics-bench-loadgen ./cmd/loadgen
ulimit -n 20000
run() { # name, loadgen args...
  local name=$1; shift
  /tmp/ics-bench-server -http 127.0.0.1:18196 -admin 127.0.0.1:19196 -jwt-key bench-key-0123456789abcdef0123456789 -log-level warn > "$OUT/$name.server.log" 2>&1 & local pid=$!
  for _ in $(seq 150); do curl -sf http://127.0.0.1:18196/readyz >/dev/null && break; sleep 0.2; done
  { echo "\$ loadgen $*"; uptime; } > "$OUT/$name.txt"
  timeout 300 /tmp/ics-bench-loadgen "$@" -addr 127.0.0.1:18196 -server-pid $pid -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1
  echo "exit status $?" >> "$OUT/$name.txt"
  /tmp/ics-bench-server admin stats -addr 127.0.0.1:19196 > "$OUT/$name.stats" 2>&1
  kill $pid; sleep 0.5; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  echo "$name: $(grep -E 'latency|throughput|server \(proc\)|result' "$OUT/$name.txt" | tr -s ' ' | tr '\n' '|')"
}
run bigroom-200k fanout -conns 1000 -rooms 1 -publishers 100 -rate 2 -size 100 -duration 20s -warmup 3s -max-p99 50ms
for i in 1 2 3 4 5; do
  run dense-1M-$i fanout -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration 20s -warmup 3s -max-p99 50ms
done
uptime > "$OUT/DONE"
