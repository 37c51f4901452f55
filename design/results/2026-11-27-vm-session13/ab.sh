#!/bin/bash
# A/B of the throughput cells: fresh processes, base and new alternating, medians.
# usage: [AB_DIR=dir] [MIXES="..."] ab.sh OUT runs threads...
# AB_DIR holds the two bench binaries `base` and `new` (`cargo bench --bench concurrent --no-run`,
# then copy the printed executable); session 13 used /tmp/abt, session 14 /tmp/ab14.
dir=${AB_DIR:-/tmp/abt}; out=$1; runs=$2; shift 2
: > $out
for t in "$@"; do for c in ${MIXES:-read_heavy exchange rapid_grow rapid_grow_empty}; do for i in $(seq $runs); do for v in base new; do
  echo "$c $t $v $($dir/$v __cell $c hmap $t 20 | grep -o 'elapsed_ns=[0-9]*\|peak_rss_kb=[0-9]*' | cut -d= -f2 | tr '\n' ' ')" >> $out
done; done; done; done
python3 - $out <<'PY'
import collections,statistics,sys
d=collections.defaultdict(list); r=collections.defaultdict(list)
for l in open(sys.argv[1]):
    c,t,v,e,rss=l.split(); d[(c,t,v)].append(int(e)/1e6); r[(c,t,v)].append(int(rss)/1e3)
for (c,t,v) in sorted(d):
    if v!='base': continue
    b=statistics.median(d[(c,t,'base')]); n=statistics.median(d[(c,t,'new')])
    print(f"{c:17s} {t}T base {b:6.1f} ms new {n:6.1f} ms  new/base time {n/b:.2f}  ops/s ratio {b/n:.2f}  rss {statistics.median(r[(c,t,'base')]):.1f} -> {statistics.median(r[(c,t,'new')]):.1f} MB")
PY
