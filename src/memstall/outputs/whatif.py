"""`memstall whatif` output: the memstall.whatif/1 JSON document and the text table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memstall.analysis.whatif import Marks, WhatIf
from memstall.outputs.render.table import render_table
from memstall.units import human_bytes, pages_to_mib

SCHEMA = "memstall.whatif/1"


def _pages(m: Marks) -> dict[str, int]:
    return {"min_pages": m.min_pages, "low_pages": m.low_pages, "high_pages": m.high_pages}


def _bytes(w: WhatIf, m: Marks) -> dict[str, int]:
    return {"min_bytes": w.bytes_of(m.min_pages), "low_bytes": w.bytes_of(m.low_pages),
            "high_bytes": w.bytes_of(m.high_pages)}


def whatif_doc(w: WhatIf, notes: Sequence[str] = ()) -> dict[str, Any]:
    """`notes`: what the input lacked or memstall assumed (SystemState.notes)."""
    return {
        "schema": SCHEMA,
        "zones": [{"node": z.node, "zone": z.zone, "managed_pages": z.managed_pages,
                   "before": _pages(z.before), "after": _pages(z.after), "estimated": z.estimated,
                   "populated": z.populated}
                  for z in w.zones],
        "total": {"before": _bytes(w, w.total("before")), "after": _bytes(w, w.total("after"))},
        "notes": list(dict.fromkeys((*notes, *w.notes))),
    }


def _hugetlb_words(w: WhatIf) -> str:
    left = w.ram_pages - w.hugetlb_pages
    if w.hugetlb_pages <= 0 or left <= 0:
        return ""
    return (f", {max(w.withheld_pages, 0) / left * 100:.1f}% of the "
            f"{human_bytes(w.bytes_of(left))} hugetlb leaves")


def whatif_text(w: WhatIf, title: str, notes: Sequence[str] = ()) -> str:
    rows = []
    for z in w.zones:
        b, a = z.before, z.after
        pages = [z.managed_pages, b.min_pages, b.low_pages, b.high_pages, a.min_pages, a.low_pages,
                 a.high_pages, b.high_pages - b.low_pages, a.high_pages - a.low_pages]
        rows.append([z.subject + (" *" if z.estimated else "") + ("" if z.populated else " (empty)"),
                     *(pages_to_mib(p, w.page_size) for p in pages)])
    out = [title, "", render_table(
        ["zone", "managed", "min", "low", "high", "min'", "low'", "high'", "band", "band'"], rows,
        title="Watermarks per zone in MiB (primed columns: after the change)").rstrip("\n")]
    tb, ta = w.total("before"), w.total("after")

    def h(pages: int) -> str:
        return human_bytes(w.bytes_of(pages))

    out += [
        "",
        f"Host: kswapd now wakes at {h(tb.low_pages)} free and reclaims to {h(tb.high_pages)} "
        f"(band {h(tb.high_pages - tb.low_pages)}); after: wakes at {h(ta.low_pages)}, reclaims to "
        f"{h(ta.high_pages)} (band {h(ta.high_pages - ta.low_pages)}).",
        f"Min watermarks (the reserve only atomic allocations may use): {h(tb.min_pages)} -> "
        f"{h(ta.min_pages)}.",
        f"Page cache loses up to {h(max(w.withheld_pages, 0))}, {max(w.withheld_ratio, 0) * 100:.1f}% "
        f"of RAM ({h(w.ram_pages)} managed){_hugetlb_words(w)}." if w.withheld_pages >= 0 else
        f"Page cache gains up to {h(-w.withheld_pages)}, {-w.withheld_ratio * 100:.1f}% of RAM.",
    ]
    if w.estimated:
        out.append("* estimated: the source has no zone line for this zone; its managed size is what "
                   "is left of the host's total after the printed zones, its watermarks computed.")
    if w.current.inferred:
        out.append(f"Current {', '.join(w.current.inferred)} inferred from the printed watermarks: "
                   f"min_free_kbytes={w.current.min_free_kbytes}, "
                   f"watermark_scale_factor={w.current.watermark_scale_factor}.")
    out += [f"note: {n}" for n in dict.fromkeys((*notes, *w.notes))]
    return "\n".join(out) + "\n"
