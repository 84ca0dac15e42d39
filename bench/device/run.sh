#!/usr/bin/env bash
# Load runs for the lent 16-core machine (no Go toolchain there): the server
# pinned to cores 0-3 (GOMAXPROCS=4), the generator on cores 4-15, so the two
# do not compete for CPU as they do on the 2-core development machine.
# Binaries come prebuilt in bench/device/bin (see bench/device/build.sh).
# Everything targets 127.0.0.1 and stops by itself. Results go to $OUT.
set -u
source "$(dirname "$0")/lib.sh"
SRV_CPUS="${SRV_CPUS:-0-3}"   # taskset lists; override to try the script on a small machine
D="${D:-30s}"                 # fan-out duration
STEPS="${STEPS:-5}"           # sweep steps
{ nproc; grep -m1 "model name" /proc/cpuinfo; uname -r; } > "$OUT/machine.txt"


ICS="$B/server -http 127.0.0.1:18080 -admin= -jwt-key bench-key-0123456789abcdef012345 -shards 4 -loops 4"
GOR="$B/gorillahub -addr 127.0.0.1:8081"

# 1. Dense fan-out, the issue's scenario: 1,000 conns, 10 rooms x 100, every member publishing 10/s.
start_server ics-fanout-1M "$SRV_CPUS" 4 $ICS
lg ics-fanout-1M fanout -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration "$D" -loops 8
stop_server

# 2. Sweep: raise the per-member rate until p99 > 50 ms or loss (the command limit is 20/s).
start_server ics-sweep "$SRV_CPUS" 4 $ICS
lg ics-sweep sweep -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 8 -step 1.25 -max-steps "$STEPS" -duration 6s -warmup 2s -drain 3s -max-p99 50ms -size 100 -loops 8
stop_server

# 3. The gorilla baseline, same scenario and a sweep from lower rates.
start_server gorilla-fanout-1M "$SRV_CPUS" 4 $GOR
lg gorilla-fanout-1M fanout -addr 127.0.0.1:8081 -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration "$D" -loops 8
stop_server
start_server gorilla-sweep "$SRV_CPUS" 4 $GOR
lg gorilla-sweep sweep -addr 127.0.0.1:8081 -conns 1000 -rooms 10 -publishers 100 -rate 1 -step 1.6 -max-steps "$((STEPS+2))" -duration 6s -warmup 2s -drain 3s -max-p99 50ms -size 100 -loops 8
stop_server

# 4. Connection cost and idle memory: 15,000 connections.
start_server ics-connect "$SRV_CPUS" 4 $ICS
lg ics-connect connect -addr 127.0.0.1:18080 -conns 15000 -rate 3000 -duration 10s -loops 8   # 16 clients per source address (loadgen default), under -max-conns-per-ip and the /auth rate
stop_server

# 5. The kernel's loopback ceiling for k frames per write.
taskset -c "$SRV_CPUS" "$B/bench.test" -test.run '^$' -test.bench LoopbackWrite -test.benchtime 300ms -test.count 3 > "$OUT/loopback-ceiling.txt" 2>&1
echo done > "$OUT/DONE"
