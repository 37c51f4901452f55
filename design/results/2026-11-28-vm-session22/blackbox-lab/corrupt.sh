#!/bin/bash
# Builds corrupted result dirs from the quick tour + stress/throughput/layout outputs and runs `report` on each.
B=/tmp/bb-lab/target/release/hmap-lab
S=/tmp/bb-lab-out; C=$S/corrupt; rm -rf $C; mkdir -p $C
mk() { rm -rf $C/$1; mkdir -p $C/$1; }
mk empty
mk trunc; head -c 700 $S/tourq/grow.json > $C/trunc/grow.json
mk trunc_stress; head -c 300 $S/sm/concurrent-4/stress.json > $C/trunc_stress/stress.json
mk wrongtype; python3 - <<P
import json; d=json.load(open('$S/sm/concurrent-4/stress.json')); d['outcomes'][0]['ops']="many"; json.dump(d,open('$C/wrongtype/stress.json','w'))
P
mk grow_empty_sizes; python3 - <<P
import json; d=json.load(open('$S/tourq/grow.json')); d['sizes']=[]; json.dump(d,open('$C/grow_empty_sizes/grow.json','w'))
P
mk grow_empty_runs; python3 - <<P
import json; d=json.load(open('$S/tourq/grow.json')); d['sizes'][0]['runs']=[]; json.dump(d,open('$C/grow_empty_runs/grow.json','w'))
P
mk grow_neg; python3 - <<P
import json; d=json.load(open('$S/tourq/grow.json'))
def f(o):
    if isinstance(o,dict):
        for k,v in o.items():
            if isinstance(v,(int,float)) and not isinstance(v,bool) and k!='keys': o[k]=-abs(v) if isinstance(v,float) else v
            else: f(v)
    elif isinstance(o,list):
        for x in o: f(x)
f(d['sizes']); json.dump(d,open('$C/grow_neg/grow.json','w'))
P
mk wr_empty; python3 - <<P
import json; d=json.load(open('$S/tourq/wrappers.json')); d['rows']=[]; json.dump(d,open('$C/wr_empty/wrappers.json','w'))
P
mk thr_empty; python3 - <<P
import json; d=json.load(open('$S/thr/t1/throughput.json')); d['cells']=[]; json.dump(d,open('$C/thr_empty/throughput.json','w'))
P
mk thr_zero; python3 - <<P
import json; d=json.load(open('$S/thr/t1/throughput.json'))
for c in d['cells']:
    for k in c:
        if isinstance(c[k],(int,float)) and not isinstance(c[k],bool) and k not in('threads','log2'): c[k]=0
json.dump(d,open('$C/thr_zero/throughput.json','w'))
P
mk layout_empty; python3 - <<P
import json; d=json.load(open('$S/l4/layout.json')); d['growth']=[]; d['fields']=[]; json.dump(d,open('$C/layout_empty/layout.json','w'))
P
mk crash_empty; python3 - <<P
import json; d=json.load(open('$S/tourq/crash.json')); d['outcomes']=[]; json.dump(d,open('$C/crash_empty/crash.json','w'))
P
mk stress_empty; python3 - <<P
import json; d=json.load(open('$S/sm/concurrent-4/stress.json')); d['outcomes']=[]; json.dump(d,open('$C/stress_empty/stress.json','w'))
P
mk unknown_exp; echo '{"meta":{"experiment":"bogus"}}' > $C/unknown_exp/x.json
mk notjson; echo 'hello' > $C/notjson/a.json
mk array; echo '[1,2]' > $C/array/a.json
mk tour_only; cp $S/tourq/tour.json $C/tour_only/
mk bigstr; python3 - <<P
import json; d=json.load(open('$S/tourq/wrappers.json')); d['rows'][0]['map']='<&"x]]>'+'\u202e'; json.dump(d,open('$C/bigstr/wrappers.json','w'))
P
mk dirjson; mkdir $C/dirjson/sub.json
for d in $(ls $C); do
  timeout 60 $B report $C/$d > $C/$d.out 2> $C/$d.err; rc=$?
  svgs=$(ls $C/$d/*.svg 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')
  svgok=""
  for s in $C/$d/*.svg; do [ -f "$s" ] && { python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' "$s" 2>/dev/null && svgok+="ok " || svgok+="BAD($s) "; grep -qi 'nan\|inf' "$s" && svgok+="(NaN/inf in $(basename $s)) "; }; done
  echo "$d: rc=$rc panic=$(grep -c panicked $C/$d.err) err=$(grep -v '^ ' $C/$d.err | head -2 | tr '\n' '|' | cut -c1-200) svgs=[$svgs] $svgok"
done
timeout 60 $B report /tmp/bb-lab-out/nonexistent > /dev/null 2> $C/ne.err; echo "nonexistent: rc=$? $(cat $C/ne.err)"
timeout 60 $B report /tmp/bb-lab-out/afile > /dev/null 2> $C/ne.err; echo "file: rc=$? $(cat $C/ne.err)"
(cd /tmp && timeout 60 $B report > /dev/null 2> $C/ne.err; echo "no dir, no lab-results: rc=$? $(cat $C/ne.err)")
