import collections,statistics,sys
rows=[]
for f in sys.argv[1:]:
    rows+= [l.split() for l in open(f)]
# rows come in round order: for each round, base mixes then pre mixes
base={};r=collections.defaultdict(list)
seen=collections.Counter()
for v,m,n in rows:
    seen[(v,m)]+=1
    key=(m,seen[(v,m)])
    if v=='base': base[key]=int(n)
    else: r[m].append(int(n)/base[key])
for m in r: x=sorted(r[m]); print(m,'pre/base ratios median %.3f'%statistics.median(x), [round(y,2) for y in x])
