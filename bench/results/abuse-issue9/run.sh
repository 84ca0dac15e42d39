#!/bin/bash
# Each abuse scenario alone against a fresh server under ulimit -n 1024.
# SRV=server: this branch; SRV=server-main: main before issue 9 (dfb42b6).
# Binaries: go build -o /tmp/h9bin/server ./cmd/server; go build -o /tmp/h9bin/loadgen ./cmd/loadgen.
B=/tmp/h9bin
uptime
for sc in ${SCEN:-fd_exhaustion pipelined_flood claim_flood ping_flood trickled_frame kick_evasion}; do
  (ulimit -n 1024; exec $B/${SRV:-server} -http 127.0.0.1:18090 -admin 127.0.0.1:19090 -admin-token tok -jwt-key bench-key-0123456789abcdef0123456789 -log-level warn) > srv.${SRV:-server}.$sc.log 2>&1 &
  pid=$!
  sleep 1
  $B/loadgen abuse -addr 127.0.0.1:18090 -conns 100 -rate 5 -size 100 -duration 12s -scenarios $sc -abuse-sockets 1500 \
     -server-pid $pid -admin 127.0.0.1:19090 -admin-token tok -prefix b$RANDOM > lg.${SRV:-server}.$sc.txt 2>&1
  echo "== $sc exit $?"
  kill -TERM $pid; wait $pid
  echo "server exit $?"
done
