# Helpers shared by the device scripts (sourced). Binaries in $B, results
# in $OUT; the generator runs on $LG_CPUS.
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bin"
OUT="${OUT:-/tmp/ics-device}"
LG_CPUS="${LG_CPUS:-4-15}"
mkdir -p "$OUT"
ulimit -n 20000

# start_server NAME CPUS GOMAXPROCS COMMAND...: run a server pinned to CPUS.
start_server() {
  local name=$1 cpus=$2 procs=$3; shift 3
  GOMAXPROCS=$procs taskset -c "$cpus" "$@" > "$OUT/$name.server.log" 2>&1 &
  SRV=$!
  sleep 1
}

# stop_server: kill it and wait until the next server will find the ports free.
stop_server() {
  kill "$SRV" 2>/dev/null; sleep 0.5; kill -9 "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null || break
    sleep 0.2
  done
}

# lg NAME ARGS...: run the generator against the current server.
lg() {
  local name=$1; shift
  echo "\$ loadgen $*" > "$OUT/$name.txt"
  timeout 200 taskset -c "$LG_CPUS" "$B/loadgen" "$@" -server-pid "$SRV" -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1
  echo "exit status $?" >> "$OUT/$name.txt"
}

# metrics NAME: append the ICS server's frames per write call.
metrics() {
  curl -s "http://127.0.0.1:18080/metrics" | grep -E "^ics_(write_calls|frames_out)_total" |
    awk '{s[$1 ~ /write/]+=$2} END {printf "frames per write %.2f (%d frames, %d writes)\n", s[0]/s[1], s[0], s[1]}' >> "$OUT/$1.txt"
}
