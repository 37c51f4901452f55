#!/usr/bin/env bash
# The concurrent map's many-core check, as one prepared run for the 16-core device (issue 3's
# 16-thread targets: ReadHeavy ≥ papaya, Exchange / RapidGrow / RapidGrow-from-empty ≥ scc, all
# at 16 threads, beside the growth-latency run). The device has no Rust toolchain to spare time
# on, so the bench binary is built here and carried:
#
#   cargo bench --bench concurrent --no-run          # prints the executable's path
#   mkdir -p .dev && cp target/release/deps/concurrent-<hash> .dev/concurrent
#   echo /.dev/ >> .git/info/exclude                 # once: keep the binary out of git
#   # then, with the device tool: run(command="bash benches/device.sh .dev/concurrent",
#   #                                 carry=[".dev"], timeout_s=600)
#
# On any machine with cargo, `bash benches/device.sh` builds the binary itself.
#
# Budget: about 3 minutes of mixes (4 mixes x 5 maps x 5 thread counts x 3 processes, 2^20
# operations each) and about 2 minutes of growth (5 maps x 3 processes x 8M keys) on 16 cores;
# each part has its own timeout so that a hung cell cannot eat the whole lease. Results go to
# $OUT (the device tool's output folder) or target/hmap-device: machine.txt, mixes.txt,
# grow.txt and the two CSV files.
set -u

out=${OUT:-target/hmap-device}
mkdir -p "$out"
bin=${1:-}
if [ -z "$bin" ]; then
    cargo bench --bench concurrent --no-run 2>"$out/build.txt" || { cat "$out/build.txt"; exit 1; }
    bin=$(grep -o 'target/[^ )]*/deps/concurrent-[0-9a-f]*' "$out/build.txt" | tail -1)
fi
[ -x "$bin" ] || { echo "no bench executable at '$bin'" >&2; exit 1; }

# The bench writes its CSV files under $CARGO_TARGET_DIR/hmap-bench when it does not run from
# a cargo `deps` folder.
work=$(mktemp -d)
export CARGO_TARGET_DIR="$work"

{
    echo "cores: $(nproc)"
    grep -m1 'model name' /proc/cpuinfo
    uname -r
    echo "THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
    echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
    free -g | head -2
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

status=0
threads=1,2,4,8,16
if [ "$(nproc)" -lt 16 ]; then
    threads=$(seq -s, 1 "$(nproc)")
fi
echo "== mixes at $threads threads"
HMAP_CONC_THREADS=$threads HMAP_CONC_REPEAT=3 HMAP_CONC_TIMEOUT_S=60 \
    timeout 330 "$bin" --bench mixes >"$out/mixes.txt" 2>&1 || status=$?
grep -E '^ *[0-9]+ |^threads|^[a-z_]+ \(' "$out/mixes.txt"

echo "== growth to 8M keys with a reader"
HMAP_CONC_GROW_REPEAT=3 HMAP_CONC_TIMEOUT_S=90 \
    timeout 200 "$bin" --bench grow >"$out/grow.txt" 2>&1 || status=$?
tail -25 "$out/grow.txt"

cp "$work"/hmap-bench/*.csv "$out/" 2>/dev/null
rm -rf "$work"
exit "$status"
