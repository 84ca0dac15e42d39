#!/usr/bin/env bash
# ICS vs the gorilla baseline on the 2-core development machine, in one
# session: server and generator share the two cores. Writes into
# bench/results/ics/ (or $OUT). Loopback only; every run is bounded.
set -u
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench/results/ics}"
mkdir -p "$OUT"
go build -o /tmp/ics-bench-server ./cmd/server
go build -o /tmp/ics-bench-loadgen ./cmd/loadgen
go build -o /tmp/ics-bench-gorillahub ./bench/cmd/gorillahub
ulimit -n 20000
if (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null; then
  echo "something already listens on 127.0.0.1:18080 or :8081; stop it first" >&2; exit 1
fi
run() { # name, server command, loadgen args...
  local name=$1 srv=$2; shift 2
  $srv > "$OUT/$name.server.log" 2>&1 & local pid=$!
  sleep 1
  if ! kill -0 $pid 2>/dev/null; then echo "$name: server did not start" >&2; cat "$OUT/$name.server.log" >&2; return; fi
  { echo "\$ loadgen $*"; uptime; } > "$OUT/$name.txt"
  timeout 300 /tmp/ics-bench-loadgen "$@" -server-pid $pid -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1
  echo "exit status $?" >> "$OUT/$name.txt"
  if [[ $srv == *ics-bench-server* ]]; then
    curl -s http://127.0.0.1:18080/metrics | grep -E '^ics_(write_calls|frames_out)_total' |
      awk '{s[$1 ~ /write/]+=$2} END {printf "server frames per write: %.2f (%d frames, %d write calls)\n", s[0]/s[1], s[0], s[1]}' >> "$OUT/$name.txt"
  fi
  kill $pid; sleep 0.5; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  # the next server must find its port free (and must be the one measured)
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null || break; sleep 0.2; done
}
ICS="/tmp/ics-bench-server -http 127.0.0.1:18080 -admin= -jwt-key bench-key-0123456789abcdef012345"
GOR="/tmp/ics-bench-gorillahub -addr 127.0.0.1:8081"
run ics-fanout-1M "$ICS" fanout -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration 30s -max-p99 50ms
run gorilla-fanout-1M "$GOR" fanout -addr 127.0.0.1:8081 -conns 1000 -rooms 10 -publishers 100 -rate 10 -size 100 -duration 30s -max-p99 50ms
run gorilla-fanout-190k "$GOR" fanout -addr 127.0.0.1:8081 -conns 1000 -rooms 10 -publishers 100 -rate 1.9 -size 100 -duration 30s -max-p99 50ms
run ics-sweep "$ICS" sweep -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 100 -rate 4 -step 1.25 -max-steps 8 -duration 6s -warmup 2s -drain 3s -max-p99 50ms -size 100
run gorilla-sweep "$GOR" sweep -addr 127.0.0.1:8081 -conns 1000 -rooms 10 -publishers 100 -rate 0.5 -step 1.4 -max-steps 8 -duration 6s -warmup 2s -drain 3s -max-p99 50ms -size 100
run ics-connect "$ICS -auth-rate 5000 -auth-burst 5000" connect -addr 127.0.0.1:18080 -conns 15000 -rate 3000 -duration 10s
run ics-churn "$ICS" churn -addr 127.0.0.1:18080 -conns 1000 -rooms 10 -publishers 5 -rate 10 -size 100 -duration 20s -churn-rate 50
run ics-abuse "$ICS" abuse -addr 127.0.0.1:18080 -conns 50 -rate 10 -duration 45s
run ics-compat-seed "$ICS" fanout -compat seed -addr 127.0.0.1:18080 -conns 200 -rooms 2 -publishers 5 -rate 5 -size 100 -duration 10s
go test -run '^$' -bench 'ICSFanout|GorillaFanout' -benchtime 1x -count 6 ./bench/ > "$OUT/bench-e2e.txt" 2>&1
go test -run '^$' -bench 'LoopbackWrite' -benchtime 300ms -count 6 ./bench/ > "$OUT/bench-ceiling.txt" 2>&1
uptime > "$OUT/DONE"
