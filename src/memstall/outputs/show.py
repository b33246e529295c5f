"""`memstall show <what>`: JSON documents (versioned schemas) and text tables.

Schemas are documented in docs/json.md; a field is never renamed or removed within a
schema version.
"""

from __future__ import annotations

from typing import Any

from memstall import specs
from memstall.analysis.fragmentation import (
    format_extfrag_milli,
    format_unusable_milli,
    fragmentation_indices,
    unusable_indices,
)
from memstall.analysis.sysctl_limits import absent_reason
from memstall.analysis.zone_watermarks import min_free_origin, watermark_rows
from memstall.model.state import SystemState
from memstall.outputs.render.table import render_table
from memstall.outputs.show_files import need
from memstall.units import MIB, pages_to_bytes, pages_to_kib, pages_to_mib

Doc = dict[str, Any]


def frag_doc(state: SystemState) -> Doc:
    buddy = need(state.buddyinfo, specs.BUDDYINFO, state)
    zones = []
    for z in buddy.zones:
        frag = fragmentation_indices(z.free_blocks)
        unusable = unusable_indices(z.free_blocks)
        zones.append({
            "node": z.node, "zone": z.zone, "free_blocks": list(z.free_blocks),
            "free_pages": z.free_pages,
            "fragmentation_index": [v / 1000 for v in frag],
            "fragmentation_index_text": [format_extfrag_milli(v).strip() for v in frag],
            "unusable_index": [v / 1000 for v in unusable],
        })
    return {"schema": "memstall.frag/1", "notes": list(state.notes), "page_size": state.page_size,
            "zones": zones}


def frag_text(state: SystemState) -> str:
    doc = frag_doc(state)
    out = []
    for z in doc["zones"]:
        rows = []
        for order, count in enumerate(z["free_blocks"]):
            rows.append([order, f"{pages_to_kib(1 << order, state.page_size)} KiB", count,
                         pages_to_mib(count << order, state.page_size),
                         # as debugfs prints them (-1.000, 0.937, 0.-500; 0.200), right-aligned
                         z["fragmentation_index_text"][order].rjust(6),
                         format_unusable_milli(round(z["unusable_index"][order] * 1000)).rjust(6)])
        title = (f"node{z['node']}/{z['zone']}: {z['free_pages']} free pages "
                 f"({pages_to_bytes(z['free_pages'], state.page_size) / MIB:.1f} MiB)")
        out.append(render_table(["order", "block", "free_blocks", "free_MiB",
                                 "frag_index", "unusable_index"], rows, title=title))
    out.append("frag_index: -1.000 = a free block of that order exists; near 1 = the request\n"
               "fails from fragmentation, near 0 = from lack of memory (mm/vmstat.c).\n"
               "unusable_index: share of free memory in blocks too small for the order.\n")
    return "\n".join(out)


def watermarks_doc(state: SystemState) -> Doc:
    need(state.zoneinfo, specs.ZONEINFO, state)
    sysctl = state.sysctl_vm
    zones = []
    for row in watermark_rows(state):
        z = row.zone
        c = row.computed
        zones.append({
            "node": z.node, "zone": z.zone, "free_pages": z.free_pages,
            "min_pages": z.min_pages, "low_pages": z.low_pages, "high_pages": z.high_pages,
            "promo_pages": z.promo_pages, "boost_pages": z.boost_pages or 0,
            "managed_pages": z.managed_pages, "present_pages": z.present_pages,
            "computed": None if c is None else {
                "min_pages": c.min_pages, "low_pages": c.low_pages, "high_pages": c.high_pages,
                "promo_pages": c.promo_pages},
            "computed_matches": row.matches,
            "inferred_boost_pages": row.inferred_boost_pages,
            "band_bytes": pages_to_bytes(z.high_pages - z.low_pages, state.page_size),
        })
    origin = min_free_origin(state)
    return {
        "schema": "memstall.watermarks/1",
        "notes": list(state.notes),
        "page_size": state.page_size,
        "kernel": state.kernel_release,
        "zones": zones,
        "sysctl": {k: (sysctl.int_value(k) if sysctl else None)
                   for k in ("min_free_kbytes", "watermark_scale_factor", "watermark_boost_factor")},
        "min_free_kbytes_origin": None if origin is None else {
            "current_kbytes": origin.current_kbytes, "default_kbytes": origin.default_kbytes,
            "thp_recommended_kbytes": origin.thp_recommended_kbytes, "origin": origin.origin,
            "thp_enabled": origin.thp_enabled, "thp_if_enabled_kbytes": origin.thp_if_enabled_kbytes},
    }


def _sysctl_shown(state: SystemState, name: str, value: int | None) -> str:
    """The value; '-' when this kernel has no such sysctl (watermark_scale_factor < 4.6,
    watermark_boost_factor < 5.0); 'not captured' when it may have one that was not read:
    absent from a capture is not absent from the kernel."""
    if value is not None:
        return str(value)
    known = state.absence_is_known and state.sysctl_vm is not None
    return "-" if known or absent_reason(f"vm.{name}", state.kernel) else "not captured"


def watermarks_text(state: SystemState) -> str:
    doc = watermarks_doc(state)
    ps = state.page_size
    rows = []
    for z in doc["zones"]:
        if not z["present_pages"]:
            continue
        match = {True: "yes", False: "stale", None: "-"}[z["computed_matches"]]
        if z["inferred_boost_pages"]:
            match = f"boosted by {z['inferred_boost_pages']} pages (inferred)"
        pages = [z[k] for k in ("free_pages", "min_pages", "low_pages", "high_pages", "promo_pages",
                                "boost_pages", "managed_pages")] + [z["high_pages"] - z["low_pages"]]
        rows.append([f"node{z['node']}/{z['zone']}",
                     *(None if p is None else pages_to_mib(p, ps, keep_small=True) for p in pages), match])
    out = [render_table(["zone", "free", "min", "low", "high", "promo", "boost", "managed",
                         "band", "formula"], rows, title="Watermarks per zone (MiB)")]
    out.append("  ".join(f"vm.{k}={_sysctl_shown(state, k, v)}" for k, v in doc["sysctl"].items())
               + "\n")
    o = doc["min_free_kbytes_origin"]
    if o:
        thp = (f"{o['thp_recommended_kbytes']} kB" if o["thp_recommended_kbytes"] is not None
               else f"{o['thp_if_enabled_kbytes']} kB if THP is enabled (its settings were not captured)"
               if o["thp_enabled"] is None else "n/a (THP off)")
        out.append(f"min_free_kbytes: {o['current_kbytes']} kB = {o['origin']} "
                   f"(kernel default {o['default_kbytes']} kB, THP recommendation {thp})\n")
    out.append("band = high - low: the free memory kswapd restores once woken. "
               "formula: memstall's own calculation equals the kernel's.\n")
    if any(z["computed_matches"] is False for z in doc["zones"] if z["present_pages"]):
        out.append(_STALE_NOTE)
    if any(z["inferred_boost_pages"] for z in doc["zones"]):
        out.append(_INFERRED_BOOST_NOTE)
    return "\n".join(out)


# Why a real host often differs by a few pages: the kernel computes watermarks once at boot
# (init_per_zone_wmark_min, a core_initcall) and again only when min_free_kbytes,
# watermark_scale_factor or lowmem_reserve_ratio is written or memory is onlined; the
# initrd and __init sections are freed into the zones afterwards, so `managed` grows
# while the watermarks stay. memstall computes from today's managed pages, which is what
# the kernel will use at its next recompute (and what `whatif`/`tune` predict).
_INFERRED_BOOST_NOTE = (
    "boosted (inferred): this kernel's zoneinfo prints no `boost` line, but min, low and high\n"
    "all exceed the formula by the same number of pages, within what watermark_boost_factor\n"
    "allows: a boost after a fragmentation event, which kswapd reclaims and then drops.\n")
_STALE_NOTE = (
    "stale: the kernel computed this zone's watermarks when it had fewer managed pages (memory\n"
    "freed or onlined since, e.g. the initrd and init sections after boot). The kernel will use\n"
    "memstall's values from today's sizes the next time a watermark sysctl is written.\n")

