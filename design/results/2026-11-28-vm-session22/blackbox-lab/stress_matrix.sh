#!/bin/bash
# Each stress --map at 1, 2, 4 threads for 2 s; records rc, violations, rounds.
B=/tmp/bb-lab/target/release/hmap-lab
for t in 1 2 4; do
  for m in failfast safe/rwlock safe/mutex safe/actor sharded/16 sync cow concurrent audited; do
    o=/tmp/bb-lab-out/sm/${m//\//_}-$t
    timeout 120 $B stress --map $m --threads $t --duration 2s --round 500ms --out $o > $o.out 2> $o.err
    rc=$?
    line=$(grep -E "^$m " $o.out | tr -s ' ')
    echo "t=$t map=$m rc=$rc :: $line :: $(grep -v '^ ' $o.err | head -1 | cut -c1-120)"
  done
done
