#!/bin/bash
# A/B: dense fan-out at 100k deliveries/s, this branch vs main before issue 9.
B=/tmp/h9bin
uptime
for srv in server server-main server server-main; do
  GOMAXPROCS=2 $B/$srv -http 127.0.0.1:18091 -admin= -jwt-key bench-key-0123456789abcdef0123456789 -log-level warn > ab.$srv.log 2>&1 &
  pid=$!; sleep 1
  echo "== $srv"
  $B/loadgen fanout -addr 127.0.0.1:18091 -conns 1000 -rooms 10 -publishers 100 -rate 1 -size 100 -duration 10s -warmup 2s -drain 3s -server-pid $pid -prefix ab$RANDOM 2>&1 | grep -E "delivered|throughput|latency ms|server \(proc|result"
  kill -TERM $pid; wait $pid
done
