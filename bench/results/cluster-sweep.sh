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
SHAPE="-conns 1000 -rooms 10 -publishers 100 -rate ${RATE:-0.25} -step 1.4 -max-steps ${STEPS:-10} -size 100 -duration 10s -warmup ${WARMUP:-4s} -max-p99 50ms"
. bench/results/cluster-lib.sh
S="/tmp/ics-bench-server -admin= -jwt-key bench-key-0123456789abcdef0123456789 -log-level warn ${SERVER_FLAGS:-}"
PEERS=nats://127.0.0.1:16341,nats://127.0.0.1:16342
[ "${ONLY:-}" = two ] || run one-node sweep 127.0.0.1:18190 "$S -http 127.0.0.1:18190"
[ "${ONLY:-}" = one ] || run two-nodes sweep 127.0.0.1:18191,127.0.0.1:18192 \
  "$S -http 127.0.0.1:18191 -node-id s1 -cluster-listen 127.0.0.1:16341 -cluster-peers $PEERS" \
  "$S -http 127.0.0.1:18192 -node-id s2 -cluster-listen 127.0.0.1:16342 -cluster-peers $PEERS"
uptime > "$OUT/DONE"
