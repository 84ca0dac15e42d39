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
SHAPE="-conns 1000 -rooms 10 -publishers 100 -rate $RATE -size 100 -duration 20s -warmup 3s -max-p99 50ms"
. bench/results/cluster-lib.sh
S="/tmp/ics-bench-server -admin= -jwt-key bench-key-0123456789abcdef0123456789 ${SERVER_FLAGS:-}"
PEERS=nats://127.0.0.1:16331,nats://127.0.0.1:16332
[ -n "${SKIP_ONE:-}" ] || run one-node fanout 127.0.0.1:18180 "$S -http 127.0.0.1:18180"
run two-nodes fanout 127.0.0.1:18181,127.0.0.1:18182 \
  "$S -http 127.0.0.1:18181 -node-id b1 -cluster-listen 127.0.0.1:16331 -cluster-peers $PEERS" \
  "$S -http 127.0.0.1:18182 -node-id b2 -cluster-listen 127.0.0.1:16332 -cluster-peers $PEERS"
uptime > "$OUT/DONE"
