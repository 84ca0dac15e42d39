#!/bin/bash
# runs base and new alternately on both shapes
cd /tmp/h12
T=$1
for shape in "big 1 1000 100 3" "10x100 10 1000 100 3"; do
  set -- $shape
  for v in base adapt; do
    ./run.sh ${OUT:-/tmp/h12}/server-$v $T-$v-$1 $2 $3 $4 $5 12s > /dev/null 2>&1
    echo "== $v $1: $(grep -E 'latency|server \(proc\)|throughput|lost' $T-$v-$1.txt | tr -s ' ' | tr '\n' '|')"
    awk '/^LOOP/{f=1;next} f&&NF>5{print "   loop",$1,"writes",$4,"frames",$5,"f/w",$6,"win",$7}' $T-$v-$1.stats
  done
done
