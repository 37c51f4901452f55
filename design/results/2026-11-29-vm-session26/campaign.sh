#!/bin/bash
# usage: camp.sh workload from to
cd /work/main
B=$(ls -t target/go-trace/release/deps/go_parity-* | grep -v "\.d$" | head -1)
T=target/go-trace/tmp/go-trace-tracer
for s in $(seq $2 $3); do
  $T $1 $s 60000 > /tmp/s26/camp-$1.txt
  HMAP_GO_TRACE_FILE=/tmp/s26/camp-$1.txt $B trace_grow_matches_go --nocapture 2>&1 | grep "camp-$1.txt:" | sed -E "s/^[^:]*:/$1 $s:/; s/Coverage \{.*concurrent: //" 
done
