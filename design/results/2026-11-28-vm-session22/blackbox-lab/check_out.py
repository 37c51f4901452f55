#!/usr/bin/env python3
"""Validate every CSV/JSON/SVG in the given result dirs."""
import csv, json, math, sys, os, xml.dom.minidom
def walk(o, path=""):
    if isinstance(o, dict):
        for k, v in o.items(): yield from walk(v, f"{path}.{k}")
    elif isinstance(o, list):
        for i, v in enumerate(o): yield from walk(v, f"{path}[{i}]")
    else: yield path, o
def nonfinite(x):
    return isinstance(x, float) and not math.isfinite(x)
bad = 0
for d in sys.argv[1:]:
    for f in sorted(os.listdir(d)):
        p = os.path.join(d, f)
        try:
            if f.endswith(".csv"):
                rows = list(csv.reader(open(p, newline="")))
                hdr = rows[0]; n = len(hdr)
                badrows = [i for i, r in enumerate(rows) if len(r) != n]
                strs = set()
                for r in rows[1:]:
                    for h, c in zip(hdr, r):
                        if c.lower() in ("nan", "inf", "-inf", "infinity"): strs.add(f"{h}={c}")
                cmd = set(r[hdr.index("command")] for r in rows[1:]) if "command" in hdr else {"<no command col>"}
                gc = set(r[hdr.index("git_commit")] for r in rows[1:]) if "git_commit" in hdr else {"<none>"}
                print(f"{p}: {len(rows)-1} rows x {n} cols; ragged={badrows[:5]} nonfinite={sorted(strs)[:5]} commit={gc} cmd={cmd}")
                if badrows or strs: bad += 1
            elif f.endswith(".json"):
                txt = open(p).read()
                o = json.loads(txt, parse_constant=lambda c: float(c))
                nf = [k for k, v in walk(o) if nonfinite(v) or v is None and False]
                nulls = [k for k, v in walk(o) if v is None]
                m = o.get("meta", {}) if isinstance(o, dict) else {}
                print(f"{p}: ok keys={list(o)[:8] if isinstance(o, dict) else type(o)} meta.git_commit={m.get('git_commit','<nometa>')!r} dirty={m.get('git_dirty')!r} cmdline={m.get('command_line')} nulls={nulls[:6]}{'...' if len(nulls)>6 else ''}")
                if nf: print("  NONFINITE", nf[:5]); bad += 1
            elif f.endswith(".svg"):
                xml.dom.minidom.parse(p); print(f"{p}: svg ok")
            else:
                print(f"{p}: (other)")
        except Exception as e:
            bad += 1; print(f"{p}: FAIL {type(e).__name__}: {e}")
sys.exit(1 if bad else 0)
