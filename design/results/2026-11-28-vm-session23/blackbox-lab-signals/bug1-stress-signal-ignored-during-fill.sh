#!/bin/bash
# Bug: a signal that arrives while stress fills a round's map (single-threaded prefill of --keys
# shared keys, no check of the stop flag) is acted on only when the fill (and audit) are done:
# seconds to tens of seconds, not "the next tick of its clock (20 ms)" (stress.rs module docs).
B=${B:-/tmp/target-labbb/release/hmap-lab}
run() {
  OUT=$(mktemp -d)
  $B stress "$@" --out $OUT >/dev/null 2>&1 & P=$!
  sleep 1; s=$(date +%s.%N); kill -INT $P
  ( sleep 120; kill -9 $P 2>/dev/null ) & W=$!
  wait $P; rc=$?; kill $W 2>/dev/null
  printf '%-60s rc=%s  exited %.1f s after SIGINT\n' "stress $*" $rc "$(echo "$(date +%s.%N)-$s" | bc)"
}
run --duration 30s                                        # baseline: ~0.0 s
run --map safe/actor --keys 100K --threads 1 --duration 30s   # 1-17 s seen (load-dependent)
run --map cow --keys 20K --threads 1 --duration 30s           # 5-7 s
run --keys 4M --duration 30s                                  # default map: ~4 s
