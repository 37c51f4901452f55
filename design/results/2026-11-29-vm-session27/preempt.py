# Reads `perf script` output of sched:sched_switch events on stdin; prints every time a thread
# whose name starts with argv[1] was switched out while runnable (preempted) for longer than argv[2] ms,
# with the CPU and what ran there meanwhile. Used by sched-attrib.sh (README.md).
import sys,re
ev=[]
for l in sys.stdin:
    m=re.search(r'\[(\d+)\]\s+([\d.]+): sched:sched_switch: prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)',l)
    if m: ev.append((int(m.group(1)),float(m.group(2)),m.group(3),int(m.group(4)),m.group(5),m.group(6),int(m.group(7))))
pref=sys.argv[1]
out={}
runs={}  # who ran on cpu in window
for i,(cpu,t,pc,pp,ps,nc,np) in enumerate(ev):
    if np in out:
        t0,c0,j=out.pop(np)
        if t-t0>float(sys.argv[2])/1e3:
            # who ran on c0 between j and i
            who=[(e[5],e[6]) for e in ev[j:i] if e[0]==c0]
            print('pid %d preempted on cpu%d for %.2f ms; cpu%d ran: %s'%(np,c0,(t-t0)*1e3,c0,' '.join(sorted(set('%s/%d'%w for w in who)))))
    if pc.startswith(pref) and ps.startswith('R'):
        out[pp]=(t,cpu,i)
