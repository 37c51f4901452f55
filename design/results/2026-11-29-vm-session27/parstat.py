import collections,statistics,sys
d=collections.defaultdict(list)
for l in open(sys.argv[1]):
    m,a,b=l.split(); d[m].append((int(a)/1e6,int(b)/1e6))
for m,v in d.items():
    r=sorted(b/a for a,b in v)
    print(m,'A med %.0f B med %.0f  B/A ratios med %.3f'%(statistics.median(a for a,b in v),statistics.median(b for a,b in v),statistics.median(r)),[round(x,2) for x in r])
