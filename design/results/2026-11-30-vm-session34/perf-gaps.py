#!/usr/bin/env python3
"""For each slow insert printed by grow-probe (duration, CLOCK_MONOTONIC start, CPU), count the
perf samples (`perf record -a -F 4999 -k CLOCK_MONOTONIC`, every task and idle included) taken on
the insert's CPU while it ran, the longest stretch with none, and which tasks the samples belong to.
Usage: perf script -i perf.data -F comm,tid,cpu,time > samples.txt; perf-gaps.py out.txt samples.txt"""
import bisect, collections, re, sys

by = collections.defaultdict(list)
for line in open(sys.argv[2]):
    m = re.match(r'\s*(\S+)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):', line)
    if m:
        by[int(m.group(3))].append((float(m.group(4)), m.group(1)))
for c in by:
    by[c].sort()
silent = 0
rows = 0
for line in open(sys.argv[1]):
    m = re.match(r'\s*([\d.]+) ms at ([\d.]+) cpu (\d+) key\s+(\d+).*invcsw (\d+)', line)
    if not m:
        continue
    d, t0, c = float(m.group(1)) / 1e3, float(m.group(2)), int(m.group(3))
    ts = [t for t, _ in by[c]]
    i, j = bisect.bisect_left(ts, t0), bisect.bisect_right(ts, t0 + d)
    pts = [ts[i - 1] if i > 0 else t0] + ts[i:j] + [ts[j] if j < len(ts) else t0 + d]
    gap = max(b - a for a, b in zip(pts, pts[1:]))
    tasks = collections.Counter(comm for _, comm in by[c][i:j])
    rows += 1
    silent += gap > 0.8 * d
    print("insert %5.2f ms key %8s invcsw %s: %2d samples on its CPU, longest gap %5.2f ms, tasks %s"
          % (d * 1e3, m.group(4), m.group(5), j - i, gap * 1e3, dict(tasks)))
print("%d of %d slow inserts ran while their CPU took no sample for 80%%+ of the insert" % (silent, rows))
