#!/usr/bin/env python3
"""Recompute extfrag_index / unusable_index from /proc/buddyinfo and compare.

Standalone check for the QEMU captures (scripts/qemu_capture); it does not
import memstall. Formulas: shared kernel FACTS.md 1.1-1.3 (integer, truncating
division, as in mm/vmstat.c); printing: 1.5 ("%2d.%03d " / "%d.%03d " with C
truncating division, so -500 prints as " 0.-500").

Usage:
    check_extfrag.py DIR [DIR ...]

DIR is either a sample directory (buddyinfo_before, extfrag_index,
unusable_index, buddyinfo_after) or a snapshot directory (proc/buddyinfo,
sys/kernel/debug/extfrag/...). Exit status 1 if any value differs while the
two buddyinfo reads agree.
"""
from __future__ import annotations

import os
import sys


def parse_buddyinfo(text: str) -> dict[tuple[int, str], list[int]]:
    zones = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] != "Node":
            continue
        node = int(parts[1].rstrip(","))
        zones[(node, parts[3])] = [int(x) for x in parts[4:]]
    return zones


def parse_index(text: str) -> dict[tuple[int, str], list[str]]:
    zones = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] != "Node":
            continue
        zones[(int(parts[1].rstrip(",")), parts[3])] = parts[4:]
    return zones


def contig(nr_free: list[int], order: int) -> tuple[int, int, int]:
    free_pages = sum(n << k for k, n in enumerate(nr_free))
    total = sum(nr_free)
    suitable = sum(n << (k - order) for k, n in enumerate(nr_free) if k >= order)
    return free_pages, total, suitable


def fragmentation_index(nr_free: list[int], order: int) -> int:
    free_pages, total, suitable = contig(nr_free, order)
    if total == 0:
        return 0
    if suitable:
        return -1000
    requested = 1 << order
    return 1000 - (1000 + (free_pages * 1000) // requested) // total


def unusable_index(nr_free: list[int], order: int) -> int:
    free_pages, _total, suitable = contig(nr_free, order)
    if free_pages == 0:
        return 1000
    return ((free_pages - (suitable << order)) * 1000) // free_pages


def c_fmt(value: int, width: int) -> str:
    """C printf("%<width>d.%03d", value / 1000, value % 1000) with C semantics."""
    q = int(value / 1000)  # truncation toward zero, like C
    r = value - q * 1000  # C remainder has the sign of the dividend
    return f"{q:{width}d}.{r:03d}"


def load(d: str) -> tuple[str, str, str, str | None]:
    if os.path.exists(os.path.join(d, "buddyinfo_before")):
        names = ("buddyinfo_before", "extfrag_index", "unusable_index", "buddyinfo_after")
    else:
        names = ("proc/buddyinfo", "sys/kernel/debug/extfrag/extfrag_index",
                 "sys/kernel/debug/extfrag/unusable_index", None)
    out = []
    for n in names:
        if n is None:
            out.append(None)
            continue
        with open(os.path.join(d, n), encoding="ascii") as f:
            out.append(f.read())
    return tuple(out)  # type: ignore[return-value]


def check_texts(b1: str, ei: str, ui: str, b2: str | None) -> dict:
    """Return counts: compared, matched, computed (extfrag values != -1.000), mismatches."""
    stable = b2 is None or b1 == b2
    buddy = parse_buddyinfo(b1)
    res = {"stable": stable, "compared": 0, "matched": 0, "computed": 0,
           "computed_matched": 0, "negative": 0, "mismatches": []}
    for kind, text, fn, width in (("extfrag", ei, fragmentation_index, 2),
                                  ("unusable", ui, unusable_index, 1)):
        for key, printed in parse_index(text).items():
            if key not in buddy:
                res["mismatches"].append((kind, key, "zone missing from buddyinfo"))
                continue
            nr_free = buddy[key]
            for order, got in enumerate(printed):
                want = c_fmt(fn(nr_free, order), width).strip()
                res["compared"] += 1
                ok = got == want
                res["matched"] += ok
                if kind == "extfrag" and got != "-1.000":
                    res["computed"] += 1
                    res["computed_matched"] += ok
                    if got.startswith("-") or ".-" in got:
                        res["negative"] += 1
                if not ok:
                    res["mismatches"].append((kind, key, order, got, want))
    return res


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    bad = 0
    tot = {"compared": 0, "matched": 0, "computed": 0, "computed_matched": 0}
    for d in argv:
        r = check_texts(*load(d))
        for k in tot:
            tot[k] += r[k]
        print(f"{d}: buddyinfo {'stable' if r['stable'] else 'CHANGED'}; "
              f"{r['matched']}/{r['compared']} values match; extfrag computed "
              f"(not -1.000) {r['computed_matched']}/{r['computed']} match, "
              f"{r['negative']} negative")
        for m in r["mismatches"][:10]:
            print("   mismatch:", m)
        if r["stable"] and r["mismatches"]:
            bad = 1
    print(f"TOTAL: {tot['matched']}/{tot['compared']} values match; extfrag computed "
          f"{tot['computed_matched']}/{tot['computed']} match")
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
