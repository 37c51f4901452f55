#!/bin/bash
# A/B of the 8M-key growth child (one writer, one reader): base and new alternating.
# usage: AB_DIR=dir ab-grow.sh OUT runs   (prints medians of the writer's figures)
dir=${AB_DIR:-/tmp/ab14}; out=$1; runs=$2
: > $out
for i in $(seq $runs); do for v in base new; do
  echo "$v $($dir/$v __grow hmap 8000000 2>&1 | grep HMAP-RESULT)" >> $out
done; done
python3 - $out <<'PY'
import re,statistics,collections,sys
d=collections.defaultdict(lambda: collections.defaultdict(list))
for l in open(sys.argv[1]):
    v=l.split()[0]
    for k,x in re.findall(r'(\w+)=([\d.]+)',l): d[v][k].append(float(x))
for k in ['loop_ns','p50_ns','p99_ns','p9999_ns','max_ns','mean_ns']:
    b=d['base'][k]; n=d['new'][k]
    print(f"{k:9s} base median {statistics.median(b):12.0f}  new median {statistics.median(n):12.0f}  new/base {statistics.median(n)/statistics.median(b):.2f}")
PY
