#!/usr/bin/env bash
# SIGTERM in the middle of a dense fan-out at 1M deliveries/s offered
# (10 rooms x 100, every member publishing 10 msgs/s): the server drains
# (flushes what it accepted, then closes everyone with 1012), and the
# generator checks that in every room each member saw the same last
# message before its 1012 (the "server restart (1012)" line of the report).
# Loopback only; bounded. Writes into bench/results/sigterm/ (or $OUT).
set -u
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench/results/sigterm}"
RATE="${RATE:-10}"
mkdir -p "$OUT"
go build -o /tmp/ics-bench-server ./cmd/server
go build -o /tmp/ics-bench-loadgen ./cmd/loadgen
ulimit -n 20000
/tmp/ics-bench-server -http 127.0.0.1:18195 -admin= -jwt-key bench-key-0123456789abcdef0123456789 -log-level warn > "$OUT/server.log" 2>&1 &
pid=$!
for _ in $(seq 150); do curl -sf http://127.0.0.1:18195/readyz >/dev/null && break; sleep 0.2; done
SHAPE="-conns 1000 -rooms 10 -publishers 100 -rate $RATE -size 100 -duration 20s -warmup 3s -drain 3s"
{ echo "\$ loadgen fanout -addr 127.0.0.1:18195 $SHAPE   (server sent SIGTERM ${AFTER:-12}s after the generator started)"; uptime; } > "$OUT/run.txt"
( sleep "${AFTER:-12}"; kill -TERM "$pid"; echo "SIGTERM sent at $(date -u +%T)" >> "$OUT/run.txt" ) &
timeout 120 /tmp/ics-bench-loadgen fanout -addr 127.0.0.1:18195 $SHAPE -json "$OUT/run.json" >> "$OUT/run.txt" 2>&1
echo "loadgen exit status $? (non-zero expected: the run was cut short)" >> "$OUT/run.txt"
wait "$pid"; echo "server exit status $?" >> "$OUT/run.txt"
uptime >> "$OUT/run.txt"
grep "server restart (1012)" "$OUT/run.txt"
