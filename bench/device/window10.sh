#!/usr/bin/env bash
# Fourth device run: the dense scenario and its sweep with the 10 ms default
# write-coalescing window (server on cores 0-3, generator on 4-15).
set -u
B="$(cd "$(dirname "$0")" && pwd)/bin"
OUT="${OUT:-/tmp/ics-device}"
mkdir -p "$OUT"; ulimit -n 20000
start_server() { local name=$1; shift; GOMAXPROCS=4 taskset -c 0-3 "$@" > "$OUT/$name.server.log" 2>&1 & SRV=$!; sleep 1; }
stop_server() { kill "$SRV" 2>/dev/null; sleep 0.5; kill -9 "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null || break; sleep 0.2; done; }
metrics() { curl -s "http://127.0.0.1:18080/metrics" | grep -E "^ics_(write_calls|frames_out)_total" | awk '{s[$1 ~ /write/]+=$2} END {printf "frames per write %.2f (%d frames, %d writes)\n", s[0]/s[1], s[0], s[1]}' >> "$OUT/$1.txt"; }
lg() { local name=$1; shift; echo "\$ loadgen $*" > "$OUT/$name.txt"
  timeout 200 taskset -c 4-15 "$B/loadgen" "$@" -server-pid "$SRV" -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1; echo "exit status $?" >> "$OUT/$name.txt"; }
start_server fanout-10ms "$B/server" -http 127.0.0.1:18080 -admin= -jwt-key d
lg fanout-10ms fanout -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration 30s -max-p99 50ms -loops 8
metrics fanout-10ms; stop_server
start_server sweep-10ms "$B/server" -http 127.0.0.1:18080 -admin= -jwt-key d
lg sweep-10ms sweep -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 8 -step 1.25 -max-steps 5 -duration 6s -warmup 2s -drain 3s -max-p99 50ms -size 100 -loops 8
metrics sweep-10ms; stop_server
echo done > "$OUT/DONE"
