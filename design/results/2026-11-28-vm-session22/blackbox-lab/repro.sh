#!/bin/bash
# Short reproducers for the findings in the report (cheap ones only). Run from anywhere.
B=/tmp/bb-lab/target/release/hmap-lab; O=/tmp/bb-lab-out/repro; rm -rf $O; mkdir -p $O; cd $O
echo "F1 layout --from-b 0/1:"; for b in 0 1; do $B -q layout --from-b $b --out $O/l$b >/dev/null; echo "  b=$b rc=$?"; done
echo "F2 mix overflow:"; $B stress --mix 4294967295/1/100 --threads 1 --duration 200ms --out $O/mix | grep -o 'mix [^;]*'; echo "  rc=${PIPESTATUS[0]}"
echo "F3 silent panic:"; $B stress --keys 18446744073709551615 --threads 1 --duration 1s --out $O/k 2>&1 | wc -c; echo "  rc=${PIPESTATUS[0]}"
echo "F4 crash spawn failure deadlock (20 s timeout):"; timeout 20 prlimit --as=600000000 $B crash --writers 300 --readers 1 --iterations 1 --maps concurrent --out $O/c; echo "  rc=$? (124 = hung)"
echo "F5 same-second default dir:"; mkdir -p $O/cwd && cd $O/cwd && $B -q layout --from-b 3 >/dev/null && $B -q layout --from-b 6 >/dev/null; ls lab-results | wc -l; cd $O
echo "F6 probe race:"; n=0; for i in $(seq 30); do $B -q layout --out $O/same >/dev/null 2>&1 & $B -q layout --out $O/same >/dev/null 2>&1; a=$?; wait $!; b=$?; [ $a = 2 -o $b = 2 ] && n=$((n+1)); done; echo "  spurious exit 2: $n/30"
echo "F7 non-UTF-8 arg:"; $B layout --out $'/tmp/\xff' 2>&1 | grep -c panicked
echo "F8 oom abort:"; $B stress --keys 1000M --threads 1 --duration 1s --out $O/oom 2>&1 | head -1; echo "  rc=${PIPESTATUS[0]}"
