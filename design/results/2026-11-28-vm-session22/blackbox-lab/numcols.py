#!/usr/bin/env python3
"""For each CSV: columns that are mostly numeric but contain non-numeric cells (e.g. '-', '')."""
import csv, sys, glob, collections
def isnum(s):
    try: float(s); return True
    except ValueError: return False
for p in sys.argv[1:]:
    rows = list(csv.DictReader(open(p, newline="")))
    if not rows: print(p, "no rows"); continue
    for col in rows[0]:
        vals = [r[col] for r in rows]
        num = sum(isnum(v) for v in vals)
        if 0 < num < len(vals):
            odd = collections.Counter(v for v in vals if not isnum(v))
            print(f"{p}: column {col}: {num}/{len(vals)} numeric, others {dict(odd)}")
        if num == len(vals) and any(v.lower() in ('nan','inf','-inf') for v in vals):
            print(f"{p}: column {col} has nan/inf")
