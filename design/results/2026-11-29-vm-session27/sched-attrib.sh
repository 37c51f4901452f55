#!/bin/bash
# Session 27: who takes the CPU from the growth cell's writer and reader. For each map, one
# `__grow <map> 8388608` child of the concurrent bench under `perf record -e sched:sched_switch -a`
# (root, or perf_event_paranoid <= -1), then every preemption of one of its threads over 0.5 ms,
# with what ran on that CPU meanwhile (preempt.py). Run from the repository root after
# `cargo bench --bench concurrent --no-run`; writes sched-<map>-<round>.txt here.
set -euo pipefail
here=$(dirname "$0")
bench=$(ls -t target/release/deps/concurrent-* | grep -v '\.d$' | head -1)
for round in 1 2; do
  for map in hmap papaya scc; do
    out="$here/sched-$map-$round.txt"
    perf record -q -e sched:sched_switch -a -o /tmp/sched-attrib.data -- "$bench" __grow "$map" 8388608 > /tmp/sched-attrib.child 2>&1
    {
      echo "# $bench __grow $map 8388608 (round $round)"
      grep -E '^HMAP-' /tmp/sched-attrib.child
      echo "# preemptions over 0.5 ms of the child's threads (comm $(basename "$bench" | cut -c1-15)):"
      perf script -i /tmp/sched-attrib.data 2>/dev/null | python3 "$here/preempt.py" "$(basename "$bench" | cut -c1-15)" 0.5
    } > "$out"
    echo "$out: $(grep -c preempted "$out") preemptions over 0.5 ms"
  done
done
