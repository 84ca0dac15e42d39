#!/bin/bash
# usage: storm.sh BIN LABEL CONNS ROOMS RATE
BIN=$1; LABEL=$2; CONNS=$3; ROOMS=$4; RATE=$5
PORT=18412; APORT=19412
$BIN -http 127.0.0.1:$PORT -admin 127.0.0.1:$APORT -auth-rate 20000 -auth-burst 20000 -log-level error > ${OUT:-/tmp/h12}/$LABEL.server.log 2>&1 &
SP=$!
sleep 1.5
${OUT:-/tmp/h12}/loadgen connect -addr 127.0.0.1:$PORT -conns $CONNS -rooms $ROOMS -rate $RATE -duration 3s -server-pid $SP -json ${OUT:-/tmp/h12}/$LABEL.json > ${OUT:-/tmp/h12}/$LABEL.txt 2>&1
kill $SP; wait $SP 2>/dev/null
grep -E "connect rate|storm|handshake|server|result|conns" ${OUT:-/tmp/h12}/$LABEL.txt | grep -v "^\[" 
