#!/bin/bash
# usage: abbig.sh BIN RATE LABEL  (1 room x 1000, 100 publishers)
ulimit -n 20000
$1 -http 127.0.0.1:18321 -admin 127.0.0.1:19321 -jwt-key bench-key-0123456789abcdef0123456789 -log-level warn > /tmp/abbig.$3.log 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18321/readyz >/dev/null && break; sleep 0.2; done
(sleep 9; /tmp/srvN admin stats -addr 127.0.0.1:19321 2>/dev/null | awk '/^LOOP/{f=1;next} f&&NF>5{printf " loop%s f/w %s win %s;", $1,$6,$7} /^$/{if(f)exit}' > /tmp/abbig.$3.win) &
/tmp/lg fanout -addr 127.0.0.1:18321 -conns 1000 -rooms 1 -publishers 100 -rate $2 -size 100 -duration 12s -warmup 3s -server-pid $pid > /tmp/abbig.$3.txt 2>&1
kill $pid; wait $pid 2>/dev/null
echo "$(cat /tmp/abbig.$3.win) $3: $(grep -E 'latency|server \(proc\)' /tmp/abbig.$3.txt | tr -s ' ' | tr '\n' '|')"
