#!/bin/bash
# measurement script for bench/RESULTS.md (gorilla baseline)
set -u
cd /work/wt-loadgen
go build -o /tmp/res/loadgen ./cmd/loadgen && go build -o /tmp/res/gorillahub ./bench/cmd/gorillahub
run() { # name, loadgen args...
  name=$1; shift
  /tmp/res/gorillahub -addr 127.0.0.1:8081 2>/dev/null & hp=$!
  sleep 0.5
  /tmp/res/loadgen "$@" -addr 127.0.0.1:8081 -server-pid $hp -json /tmp/res/$name.json -html /tmp/res/$name.html > /tmp/res/$name.txt 2>&1
  echo "rc=$?" >> /tmp/res/$name.txt
  kill $hp; wait $hp 2>/dev/null
}
run fanout-1M  fanout -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration 30s
run fanout-100k fanout -conns 1000 -rooms 10 -publishers 10 -rate 10 -size 100 -duration 30s
run sweep sweep -conns 1000 -rooms 10 -publishers 5 -rate 10 -size 100 -duration 8s -warmup 2s -step 1.5 -max-steps 10 -max-p99 50ms
run connect connect -conns 15000 -rate 3000 -duration 10s
echo done > /tmp/res/DONE
