#!/usr/bin/env bash
# Second device run: the dense scenario with three write-coalescing windows
# (-flush-interval 0, 2ms, 5ms), a sweep with the default, and the connect
# scenario with source addresses spread so the per-IP /auth limit is not hit.
set -u
source "$(dirname "$0")/lib.sh"
SRV_CPUS="${SRV_CPUS:-0-3}"; D="${D:-30s}"
ICS="$B/server -http 127.0.0.1:18080 -admin= -jwt-key bench-key-0123456789abcdef012345 -shards 4 -loops 4"
for fi in 0 2ms 5ms; do
  start_server "fanout-flush-$fi" "$SRV_CPUS" 4 $ICS -flush-interval "$fi"
  lg "fanout-flush-$fi" fanout -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration "$D" -loops 8
  metrics "fanout-flush-$fi"; stop_server
done
start_server sweep-default "$SRV_CPUS" 4 $ICS
lg sweep-default sweep -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 8 -step 1.25 -max-steps 5 -duration 6s -warmup 2s -drain 3s -max-p99 50ms -size 100 -loops 8
metrics sweep-default; stop_server
start_server connect "$SRV_CPUS" 4 $ICS -auth-rate 20000 -auth-burst 20000
lg connect connect -addr 127.0.0.1:18080 -conns 15000 -rate 3000 -duration 10s -loops 8
stop_server
echo done > "$OUT/DONE"
