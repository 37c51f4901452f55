#!/bin/bash
# Runs each line of args (from stdin) as: hmap-lab <args> --out /tmp/bb-lab-out/edge/N, recording rc and stderr excerpt.
B=/tmp/bb-lab/target/release/hmap-lab
n=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  n=$((n+1))
  o=/tmp/bb-lab-out/edge/$n
  rm -rf "$o"
  start=$(date +%s.%N)
  eval "timeout 120 $B $line" > /tmp/bb-lab-out/edge.$n.out 2> /tmp/bb-lab-out/edge.$n.err
  rc=$?
  t=$(echo "$(date +%s.%N) - $start" | bc)
  err=$(grep -v '^  ' /tmp/bb-lab-out/edge.$n.err | head -3 | tr '\n' '|' | cut -c1-230)
  pan=$(grep -c panicked /tmp/bb-lab-out/edge.$n.err)
  printf '[%d] rc=%d t=%.1fs panic=%s :: %s\n    %s\n' "$n" "$rc" "$t" "$pan" "$line" "$err"
done
