#!/usr/bin/env bash
# Second device run: the dense scenario with three write-coalescing windows
# (-flush-interval 0, 2ms, 5ms), a sweep with the default, and the connect
# scenario with source addresses spread so the per-IP /auth limit is not hit.
set -u
B="$(cd "$(dirname "$0")" && pwd)/bin"
OUT="${OUT:-/tmp/ics-device}"
SRV_CPUS="${SRV_CPUS:-0-3}"; LG_CPUS="${LG_CPUS:-4-15}"; D="${D:-30s}"
mkdir -p "$OUT"; ulimit -n 20000
start_server() { local name=$1; shift; GOMAXPROCS=4 taskset -c "$SRV_CPUS" "$@" > "$OUT/$name.server.log" 2>&1 & SRV=$!; sleep 1; }
stop_server() { kill "$SRV" 2>/dev/null; sleep 0.5; kill -9 "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null
  # the next server must find the ports free
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null || break; sleep 0.2; done; }
metrics() { curl -s "http://127.0.0.1:18080/metrics" | grep -E "^ics_(write_calls|frames_out)_total" | awk '{s[$1 ~ /write/]+=$2} END {printf "frames per write %.2f (%d frames, %d writes)\n", s[0]/s[1], s[0], s[1]}' >> "$OUT/$1.txt"; }
lg() { local name=$1; shift; echo "\$ loadgen $*" > "$OUT/$name.txt"
  timeout 200 taskset -c "$LG_CPUS" "$B/loadgen" "$@" -server-pid "$SRV" -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1; echo "exit status $?" >> "$OUT/$name.txt"; }
ICS="$B/server -http 127.0.0.1:18080 -admin= -jwt-key device -shards 4 -loops 4"
for fi in 0 2ms 5ms; do
  start_server "fanout-flush-$fi" $ICS -flush-interval "$fi"
  lg "fanout-flush-$fi" fanout -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration "$D" -loops 8
  metrics "fanout-flush-$fi"; stop_server
done
start_server sweep-default $ICS
lg sweep-default sweep -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 8 -step 1.25 -max-steps 5 -duration 6s -warmup 2s -drain 3s -max-p99 50ms -size 100 -loops 8
metrics sweep-default; stop_server
start_server connect $ICS -auth-rate 20000 -auth-burst 20000
lg connect connect -addr 127.0.0.1:18080 -conns 15000 -rate 3000 -duration 10s -loops 8
stop_server
echo done > "$OUT/DONE"
