#!/usr/bin/env bash
# Third device run: (1) the kernel's loopback ceiling with the writer on one
# core, (2) ICS on that one core at one frame per write (sparse: -flush-interval
# 0, one shard, one loop) swept until p99 > 50 ms, (3) the dense sweep with
# the default settings on 4 cores.
set -u
source "$(dirname "$0")/lib.sh"
# (1) writer goroutine and reader goroutine on cores 0 and 1.
GOMAXPROCS=2 taskset -c 0-1 "$B/bench.test" -test.run '^$' -test.bench LoopbackWrite -test.benchtime 300ms -test.count 3 > "$OUT/ceiling-1core.txt" 2>&1
# (2) sparse, one core.
start_server sparse-1core 0 1 "$B/server" -http 127.0.0.1:18080 -admin= -jwt-key bench-key-0123456789abcdef012345 -shards 1 -loops 1 -flush-interval 0
lg sparse-1core sweep -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 1 -rate 20 -step 1.5 -max-steps 9 -duration 4s -warmup 1s -drain 2s -max-p99 50ms -size 100 -loops 8
metrics sparse-1core; stop_server
# (3) dense, 4 cores, defaults.
start_server dense-sweep 0-3 4 "$B/server" -http 127.0.0.1:18080 -admin= -jwt-key bench-key-0123456789abcdef012345
lg dense-sweep sweep -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 8 -step 1.25 -max-steps 5 -duration 6s -warmup 2s -drain 3s -max-p99 50ms -size 100 -loops 8
metrics dense-sweep; stop_server
echo done > "$OUT/DONE"
