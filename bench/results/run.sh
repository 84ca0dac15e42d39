#!/bin/bash
# measurement script for bench/RESULTS.md (gorilla baseline)
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/res2}
mkdir -p $OUT
go build -o $OUT/loadgen ./cmd/loadgen && go build -o $OUT/gorillahub ./bench/cmd/gorillahub
run() { # name, loadgen args...
  name=$1; shift
  $OUT/gorillahub -addr 127.0.0.1:8081 2>/dev/null & hp=$!
  sleep 0.5
  echo "\$ loadgen $* -addr 127.0.0.1:8081 -server-pid \$HUB -json $name.json" > $OUT/$name.txt
  uptime >> $OUT/$name.txt
  $OUT/loadgen "$@" -addr 127.0.0.1:8081 -server-pid $hp -json $OUT/$name.json -html $OUT/$name.html >> $OUT/$name.txt 2>&1
  echo "exit status $?" >> $OUT/$name.txt
  kill $hp; wait $hp 2>/dev/null
}
run fanout-1M   fanout -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration 30s
run fanout-100k fanout -conns 1000 -rooms 10 -publishers 10 -rate 10 -size 100 -duration 30s
run sweep       sweep -conns 1000 -rooms 10 -publishers 2 -rate 10 -size 100 -duration 6s -warmup 2s -drain 3s -step 1.5 -max-steps 10 -max-p99 100ms
run connect     connect -conns 15000 -rate 3000 -duration 10s
run churn       churn -conns 1000 -rooms 10 -publishers 5 -rate 10 -size 100 -duration 20s -churn-rate 50
run abuse       abuse -conns 50 -rate 10 -duration 20s
go test -run '^$' -bench 'Decode|LoopbackWrite' -benchtime 300ms -count 6 ./bench/ > $OUT/bench-micro.txt 2>&1
go test -run '^$' -bench GorillaFanout -benchtime 1x -count 6 ./bench/ > $OUT/bench-fanout.txt 2>&1
go test -run '^$' -bench 'ReceivePath' -count 6 ./internal/loadgen/ > $OUT/bench-receive.txt 2>&1
go test -run '^$' -bench 'GeneratorCeiling' -benchtime 2000000x -count 6 ./internal/loadgen/ > $OUT/bench-ceiling.txt 2>&1
uptime > $OUT/DONE
