#!/bin/bash
# usage: abseq.sh A B rounds threads mixes...  sequential, alternating order each round; prints "variant mix threads ns"
A=$1; B=$2; R=$3; T=$4; shift 4
for r in $(seq 1 $R); do for mix in "$@"; do
  if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  for v in $order; do
    if [ $v = A ]; then bin=$A; name=base; else bin=$B; name=new; fi
    n=$($bin __cell $mix hmap $T 20 2>&1 | tail -1 | sed 's/.*elapsed_ns=\([0-9]*\).*/\1/')
    echo "$name $mix $T $n"
  done
done; done
