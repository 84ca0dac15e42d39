#!/usr/bin/env bash
# ICS vs Centrifugo vs the gorilla baseline, one after another, with the
# same load shapes and the same generator (cmd/loadgen; -compat centrifugo
# speaks Centrifugo's JSON protocol). For each server and shape a sweep
# raises the offered load until p99 > 50 ms or a message is lost; the table
# (best deliveries/s at p99 <= 50 ms, server CPU per delivery and RSS at
# that step, frames per write where the server reports it) replaces the
# marked section of bench/RESULTS.md. Loopback only; every run is bounded.
#
#   bash bench/compare.sh            # raw outputs in bench/results/compare/ (or $OUT)
#
# Centrifugo: taken from PATH or $(go env GOPATH)/bin, else installed with
# `go install github.com/centrifugal/centrifugo/v6@v6.9.1`; it runs in
# insecure client mode (no tokens, anyone may subscribe and publish) on
# 127.0.0.1 only.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-bench/results/compare}"
STEP_S="${STEP_S:-12s}"
mkdir -p "$OUT"
BIN="$(mktemp -d)"
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/server" ./cmd/server
go build -o "$BIN/loadgen" ./cmd/loadgen
go build -o "$BIN/gorillahub" ./bench/cmd/gorillahub
CF="$(command -v centrifugo || true)"
[ -z "$CF" ] && [ -x "$(go env GOPATH)/bin/centrifugo" ] && CF="$(go env GOPATH)/bin/centrifugo"
if [ -z "$CF" ]; then
  GOBIN="$BIN" go install github.com/centrifugal/centrifugo/v6@v6.9.1 && CF="$BIN/centrifugo" ||
    echo "centrifugo did not install from the module proxy: its rows are left out" >&2
fi
ulimit -n 20000
printf '{"client":{"insecure":true},"http_server":{"address":"127.0.0.1","port":"18500"},"log":{"level":"error"}}\n' > "$OUT/centrifugo.json"

declare -A ADDR=([ics]=127.0.0.1:18080 [centrifugo]=127.0.0.1:18500 [gorilla]=127.0.0.1:18081)
declare -A SRV=([ics]="$BIN/server -http 127.0.0.1:18080 -admin= -jwt-key bench-key-0123456789abcdef0123456789 -auth-rate 20000 -auth-burst 20000"
  [centrifugo]="$CF -c $OUT/centrifugo.json" [gorilla]="$BIN/gorillahub -addr 127.0.0.1:18081")
declare -A COMPAT=([ics]="" [centrifugo]=centrifugo [gorilla]="")
# name: rooms conns publishers-per-room start-rate step max-steps
SHAPES=("1x1000:1 1000 100 0.2 1.7 6" "10x100:10 1000 100 0.2 1.8 7")

for srv in ics centrifugo gorilla; do
  [ "$srv" = centrifugo ] && [ -z "$CF" ] && continue
  for shape in "${SHAPES[@]}"; do
    name="$srv-${shape%%:*}"; read -r rooms conns pubs rate step steps <<< "${shape#*:}"
    ${SRV[$srv]} > "$OUT/$name.server.log" 2>&1 & pid=$!
    sleep 1.5
    if ! kill -0 $pid 2>/dev/null; then echo "$name: server did not start" >&2; continue; fi
    { echo "\$ loadgen sweep ($srv)"; uptime; } > "$OUT/$name.txt"
    timeout 600 "$BIN/loadgen" sweep -addr "${ADDR[$srv]}" -compat "${COMPAT[$srv]}" -conns "$conns" -rooms "$rooms" \
      -publishers "$pubs" -rate "$rate" -step "$step" -max-steps "$steps" -duration "$STEP_S" -warmup 2s -drain 3s \
      -max-p99 50ms -size 100 -server-pid $pid -json "$OUT/$name.json" >> "$OUT/$name.txt" 2>&1
    if [ "$srv" = ics ]; then
      curl -s http://127.0.0.1:18080/metrics | grep -E '^ics_(write_calls|frames_out)_total' |
        awk '{s[$1 ~ /write/]+=$2} END {if (s[1]) printf "%.2f\n", s[0]/s[1]}' > "$OUT/$name.fpw"
    fi
    kill $pid; sleep 0.5; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  done
done

python3 - "$OUT" <<'PY'
import json, os, re, sys, datetime
out = sys.argv[1]
rows = []
for srv in ("ics", "centrifugo", "gorilla"):
    for shape, label in (("1x1000", "1 room × 1,000, 100 publishers"), ("10x100", "10 rooms × 100, all publishing")):
        p = os.path.join(out, f"{srv}-{shape}.json")
        if not os.path.exists(p):
            continue
        d = json.load(open(p))
        ok = [s for s in d.get("steps") or [] if not s.get("failures")]
        fpw = ""
        f = os.path.join(out, f"{srv}-{shape}.fpw")
        if os.path.exists(f):
            fpw = open(f).read().strip() + " (whole sweep)"
        if not ok:
            rows.append(f"| {srv} | {label} | none passed | | | {fpw or 'n/a'} |")
            continue
        s = ok[-1]
        srvst = s.get("server") or {}
        cpu = srvst.get("cpu_s")
        per = f"{cpu / s['delivered'] * 1e6:.2f} µs" if cpu and s.get("delivered") else "n/a"
        rss = srvst.get("rss_bytes_after")
        rss = f"{rss / 2**20:.0f} MiB" if rss else "n/a"
        rows.append(f"| {srv} | {label} | {s['deliveries_per_s']:,.0f}/s (p99 {s['latency']['p99_ms']:.1f} ms) | {per} | {rss} | {fpw or 'n/a'} |")
load = os.getloadavg()
table = "\n".join([
    f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `bash bench/compare.sh` (load average before the table: {load[0]:.1f}); raw outputs in `{out}/`.",
    "",
    "| server | shape | best deliveries/s at p99 ≤ 50 ms, 0 lost | server CPU per delivery (that step) | RSS | frames per write |",
    "|---|---|---|---|---|---|",
    *rows,
])
res = "bench/RESULTS.md"
text = open(res).read()
begin, end = "<!-- compare.sh:begin -->", "<!-- compare.sh:end -->"
block = f"{begin}\n{table}\n{end}"
if begin in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: block, text, flags=re.S)
else:
    text += "\n## ICS vs Centrifugo vs gorilla (`bench/compare.sh`)\n\n" + block + "\n"
open(res, "w").write(text)
print(table)
PY
