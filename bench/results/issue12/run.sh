#!/bin/bash
# usage: run.sh BIN LABEL ROOMS CONNS PUBS RATE DURATION [server flags...]
BIN=$1; LABEL=$2; ROOMS=$3; CONNS=$4; PUBS=$5; RATE=$6; DUR=$7; shift 7
PORT=18412; APORT=19412
$BIN -http 127.0.0.1:$PORT -admin 127.0.0.1:$APORT -auth-rate 5000 -log-level error "$@" > ${OUT:-/tmp/h12}/$LABEL.server.log 2>&1 &
SP=$!
sleep 1.5
${OUT:-/tmp/h12}/loadgen fanout -addr 127.0.0.1:$PORT -rooms $ROOMS -conns $CONNS -publishers $PUBS -rate $RATE -duration $DUR -warmup 2s -drain 3s -server-pid $SP -json ${OUT:-/tmp/h12}/$LABEL.json > ${OUT:-/tmp/h12}/$LABEL.txt 2>&1
$BIN admin stats -addr 127.0.0.1:$APORT > ${OUT:-/tmp/h12}/$LABEL.stats 2>&1
kill $SP; wait $SP 2>/dev/null
tail -25 ${OUT:-/tmp/h12}/$LABEL.txt
grep -A10 -i "loop" ${OUT:-/tmp/h12}/$LABEL.stats | head -14
