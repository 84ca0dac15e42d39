#!/bin/bash
# usage: ab.sh BIN RATE LABEL
ulimit -n 20000
$1 -http 127.0.0.1:18320 -admin 127.0.0.1:19320 -jwt-key bench-key-0123456789abcdef0123456789 -log-level warn > /tmp/ab.$3.log 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18320/readyz >/dev/null && break; sleep 0.2; done
/tmp/lg fanout -addr 127.0.0.1:18320 -conns 1000 -rooms 10 -publishers 100 -rate $2 -size 100 -duration 12s -warmup 3s -server-pid $pid > /tmp/ab.$3.txt 2>&1
/tmp/srvB admin stats -addr 127.0.0.1:19320 2>/dev/null | awk '/^LOOP/{f=1;next} f&&NF>5{printf " loop%s f/w %s win %s;", $1,$6,$7} /^$/{if(f)exit}'
kill $pid; wait $pid 2>/dev/null
echo " $3: $(grep -E 'latency|server \(proc\)' /tmp/ab.$3.txt | tr -s ' ' | tr '\n' '|')"
