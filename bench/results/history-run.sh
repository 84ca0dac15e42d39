#!/usr/bin/env bash
# History on vs off, end to end (issue 11): the dense fan-out of issue 5
# (1,000 connections, 10 rooms x 100, every member sending 10 msgs/s = 1M
# deliveries/s offered, 100-byte bodies) against a fresh server per run,
# alternating off/on ROUNDS times so both see the same machine. Reports the
# server's CPU per delivery (from /proc/PID) for each run and the on/off ratio
# of the sums. Loopback only; every run is bounded. Writes into
# bench/results/history/ (or $OUT). DURATION (default 15s) per run; RATE
# (default 10 msgs/s per member) scales the offered load.
set -u
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench/results/history}"
ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-15s}"
RATE="${RATE:-10}"
mkdir -p "$OUT"
go build -o /tmp/ics-hist-server ./cmd/server || exit 1
go build -o /tmp/ics-hist-loadgen ./cmd/loadgen || exit 1
ulimit -n 20000
PORT=18091
if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then echo "127.0.0.1:$PORT is taken; stop it first" >&2; exit 1; fi
run() { # name, extra server flags...
  local name=$1; shift
  /tmp/ics-hist-server -http 127.0.0.1:$PORT -admin= -jwt-key bench-key-0123456789abcdef0123456789 "$@" > "$OUT/$name.server.log" 2>&1 & local pid=$!
  sleep 1
  { echo "\$ server $*"; echo "\$ loadgen fanout -conns 1000 -rooms 10 -publishers 100 -rate $RATE -size 100 -duration $DURATION"; uptime; } > "$OUT/$name.txt"
  timeout 300 /tmp/ics-hist-loadgen fanout -addr 127.0.0.1:$PORT -conns 1000 -rooms 10 -publishers 100 -rate "$RATE" -size 100 \
    -duration "$DURATION" -server-pid $pid -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1
  echo "exit status $?" >> "$OUT/$name.txt"
  curl -s http://127.0.0.1:$PORT/metrics | grep -E '^ics_history_(bytes|evictions_total)' >> "$OUT/$name.txt"
  kill $pid; sleep 0.5; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null || break; sleep 0.2; done
}
for r in $(seq "$ROUNDS"); do
  run "off-$r" -history-size 0
  run "on-$r"
done
python3 - "$OUT" "$ROUNDS" <<'PY' | tee "$OUT/summary.txt"
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
tot = {"off": [0.0, 0], "on": [0.0, 0]}
for r in range(1, rounds + 1):
    for mode in ("off", "on"):
        rep = json.load(open(f"{out}/{mode}-{r}.json"))
        cpu, n = rep["server"]["cpu_s"], rep["delivered"]
        tot[mode][0] += cpu; tot[mode][1] += n
        print(f"{mode}-{r}: {rep['deliveries_per_s']:.0f} deliveries/s, p99 {rep['latency']['p99_ms']:.1f} ms, lost {rep.get('lost', 0)}, "
              f"server CPU {cpu:.2f} s / {n} = {cpu / n * 1e6:.3f} us per delivery, ok={not rep.get('failures')}")
off, on = (tot[m][0] / tot[m][1] * 1e6 for m in ("off", "on"))
print(f"history off: {off:.3f} us/delivery; on: {on:.3f} us/delivery; on/off = {on / off:.3f}")
PY
