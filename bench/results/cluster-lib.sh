# Sourced by cluster-run.sh and cluster-sweep.sh: build the binaries, and
# run one loadgen mode against one node or a cluster of them, reading every
# server process's CPU from /proc. The caller sets OUT and SHAPE.

go build -o /tmp/ics-bench-server ./cmd/server
go build -o /tmp/ics-bench-loadgen ./cmd/loadgen
ulimit -n 20000
cpu() { # total user+system seconds of the given pids
  local t=0
  for p in "$@"; do t=$(awk -v t="$t" '{print t + ($14 + $15) / 100}' "/proc/$p/stat"); done
  echo "$t"
}
waitready() { for _ in $(seq 150); do curl -sf "http://$1/readyz" >/dev/null && return 0; sleep 0.2; done; return 1; }

run() { # name, loadgen mode, loadgen target (-url), server commands...
  local name=$1 mode=$2 target=$3; shift 3
  local pids=() i=0
  for srv in "$@"; do
    i=$((i + 1))
    $srv > "$OUT/$name.server$i.log" 2>&1 & pids+=($!)
  done
  for a in ${target//,/ }; do waitready "$a" || { echo "$name: $a not ready" >&2; kill "${pids[@]}"; return; }; done
  { echo "\$ loadgen $mode -url $target $SHAPE"; uptime; } > "$OUT/$name.txt"
  local c0; c0=$(cpu "${pids[@]}")
  timeout 600 /tmp/ics-bench-loadgen "$mode" -url "$target" $SHAPE -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1
  echo "exit status $?" >> "$OUT/$name.txt"
  local c1; c1=$(cpu "${pids[@]}")
  echo "server CPU seconds (all server processes of the run, incl. embedded NATS): $(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}')" >> "$OUT/$name.txt"
  for a in ${target//,/ }; do
    curl -s "http://$a/metrics" | grep -E '^ics_cluster_messages_(out|in)_total|^ics_remote_gaps_total' >> "$OUT/$name.txt"
  done
  uptime >> "$OUT/$name.txt"
  kill "${pids[@]}"; sleep 1; kill -9 "${pids[@]}" 2>/dev/null; wait 2>/dev/null
}
