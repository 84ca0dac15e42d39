#!/usr/bin/env bash
# Fourth device run: the dense scenario and its sweep with the 10 ms default
# write-coalescing window (server on cores 0-3, generator on 4-15).
set -u
source "$(dirname "$0")/lib.sh"
SRV_CPUS="${SRV_CPUS:-0-3}"
start_server fanout-10ms "$SRV_CPUS" 4 "$B/server" -http 127.0.0.1:18080 -admin= -jwt-key bench-key-0123456789abcdef012345
lg fanout-10ms fanout -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration 30s -max-p99 50ms -loops 8
metrics fanout-10ms; stop_server
start_server sweep-10ms "$SRV_CPUS" 4 "$B/server" -http 127.0.0.1:18080 -admin= -jwt-key bench-key-0123456789abcdef012345
lg sweep-10ms sweep -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 8 -step 1.25 -max-steps 5 -duration 6s -warmup 2s -drain 3s -max-p99 50ms -size 100 -loops 8
metrics sweep-10ms; stop_server
echo done > "$OUT/DONE"
