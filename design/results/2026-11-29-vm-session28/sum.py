import collections,statistics,sys
d=collections.defaultdict(list)
for f in sys.argv[1:]:
    for l in open(f):
        v,m,t,n=l.split(); d[(m,t,v)].append(int(n))
keys=sorted(set((m,t) for m,t,v in d))
for m,t in keys:
    b=d[(m,t,'base')]; n=d[(m,t,'new')]
    rs=sorted(x/y for x,y in zip(b,n))
    print(f"{m:18} T{t} base med {statistics.median(b)/1e6:7.1f} ms  new med {statistics.median(n)/1e6:7.1f} ms  speedup(base/new) med {statistics.median(rs):.3f} pairs {[round(x,2) for x in rs]}")
