# Compare benches/common/mixes.rs Cell::keys_per_thread with bustle 0.5.1 Workload::run_silently
# and simulate the read hit rate of the worker loop (LCG over the key vector).
import math, random
def npow2(x): return 1 << (x-1).bit_length()
MIXES = {"read_heavy":(98,1,1,0,75),"exchange":(10,40,40,10,75),"rapid_grow":(5,80,5,10,0)}
def port(L,T,mix):
    r,i,rm,u,p = MIXES[mix]
    ops = (1<<L)//T; prefill = (1<<L)*p//100//T
    inserts = -(-ops//100)*i
    return max(prefill+inserts+1, -(-10000//T), 16)
def bustle(L,T,mix):
    r,i,rm,u,p = MIXES[mix]
    cap = 1<<L; total = cap  # ops_f = 1.0 (conc-map-bench default)
    prefill = int(cap*p/100)
    max_ins = (total+99)//100*i
    ins_keys = max(cap, max_ins)+prefill
    return -(-ins_keys//T)
def sim_hits(L,T,mix,K):
    r,i,rm,u,p = MIXES[mix]
    ops_seq = ['R']*r+['I']*i+['D']*rm+['U']*u
    random.Random(T).shuffle(ops_seq)
    n = K; a,c,mask = n//2+1, n//4-1, n-1
    ops = (1<<L)//T; prefill=(1<<L)*p//100//T
    e,ins,f = 0,prefill,0; hits=reads=0
    for k in range(ops):
        op = ops_seq[k%100]
        if op in 'RU':
            reads+=1; hits += (e<=f<ins); f=(a*f+c)&mask
        elif op=='I': ins+=1
        else:
            if e==ins: f=(a*f+c)&mask
            else: e+=1
    return hits/reads
L=20
for mix in MIXES:
    for T in (1,2,3,4,6,8,12,16):
        kp = npow2(port(L,T,mix)); kb = npow2(bustle(L,T,mix))
        flag = "" if kp==kb else "  <-- differs"
        hp = sim_hits(L,T,mix,kp); hb = sim_hits(L,T,mix,kb)
        print(f"{mix:11s} T={T:2d} keys/thread port={kp:8d} bustle={kb:8d}  read/update hit rate port={hp:.3f} bustle={hb:.3f}{flag}")
