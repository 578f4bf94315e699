#!/usr/bin/env python3
"""Summarise a dhat heap profile (dhat-heap.json): the allocation sites holding the most bytes
at the heap's global peak (t-gmax), and at the end, grouped by the first frame of interest.

    python3 hack/dhat-summary.py dhat-heap.json [TOP]
"""
import collections
import json
import re
import sys

SKIP = re.compile(r"(alloc::|core::|std::|dhat::|<alloc::|<core::|<std::|hashbrown::raw|__rust|\[root\])")


def frame_name(f: str) -> str:
    # "0x1234: crate::path::fn (src/file.rs:12:5)" -> "crate::path::fn (file.rs:12)"
    f = re.sub(r"^0x[0-9a-f]+: ", "", f)
    f = re.sub(r"\(([^)]*/)?([^/()]+\.rs):(\d+):\d+\)", r"(\2:\3)", f)
    return f


def site(pp, ftbl, depth=4):
    names = [frame_name(ftbl[i]) for i in pp["fs"]]
    keep = [n for n in names if not SKIP.search(n)]
    return " <- ".join(keep[:depth]) or " <- ".join(names[:depth])


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "dhat-heap.json"
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    d = json.load(open(path))
    pps, ftbl = d["pps"], d["ftbl"]
    total_gmax = sum(p["gb"] for p in pps)
    total_end = sum(p["eb"] for p in pps)
    print(f"heap at global peak: {total_gmax / 2**20:.1f} MiB in {sum(p['gbk'] for p in pps)} blocks")
    print(f"heap at exit:        {total_end / 2**20:.1f} MiB")
    print(f"allocated in total:  {sum(p['tb'] for p in pps) / 2**20:.1f} MiB in {sum(p['tbk'] for p in pps)} blocks")
    by_site = collections.Counter()
    for p in pps:
        by_site[site(p, ftbl)] += p["gb"]
    print(f"\ntop {top} sites by bytes live at the peak (first frames outside alloc/core/std):")
    for s, b in by_site.most_common(top):
        print(f"{b / 2**20:8.2f} MiB  {100 * b / max(total_gmax, 1):5.1f}%  {s[:220]}")
    by_crate = collections.Counter()
    for p in pps:
        names = [frame_name(ftbl[i]) for i in p["fs"]]
        keep = [n for n in names if not SKIP.search(n)]
        crate = (keep[0].lstrip("<").split("::")[0] if keep else "?")
        by_crate[crate] += p["gb"]
    print("\nby first crate:")
    for c, b in by_crate.most_common(12):
        print(f"{b / 2**20:8.2f} MiB  {c}")


if __name__ == "__main__":
    main()
