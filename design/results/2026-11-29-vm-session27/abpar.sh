#!/bin/bash
# usage: abpar.sh A B rounds mixes...  runs A and B cells at the same time, prints "mix a_ns b_ns"
A=$1; B=$2; R=$3; shift 3
for r in $(seq 1 $R); do for mix in "$@"; do
  $A __cell $mix hmap 1 20 > /tmp/abpar.a 2>&1 &
  $B __cell $mix hmap 1 20 > /tmp/abpar.b 2>&1 &
  wait
  a=$(tail -1 /tmp/abpar.a | sed 's/.*elapsed_ns=\([0-9]*\).*/\1/'); b=$(tail -1 /tmp/abpar.b | sed 's/.*elapsed_ns=\([0-9]*\).*/\1/')
  echo "$mix $a $b"
done; done
