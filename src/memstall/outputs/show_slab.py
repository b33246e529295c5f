"""`memstall show slab`: the slab caches of proc/slabinfo by memory (schema memstall.slab/1).

Memory per cache is num_slabs * pagesperslab * page size (slabtop's CACHE SIZE); `reclaim`
says which caches reclaim can free and whether vm.vfs_cache_pressure weights them
(analysis/slab.py).
"""

from __future__ import annotations

from typing import Any

from memstall import specs
from memstall.analysis.slab import reclaim_kind, slab_use
from memstall.model.state import SystemState
from memstall.outputs.render.table import render_table
from memstall.outputs.show_files import need
from memstall.units import human_bytes, pages_to_bytes, pages_to_mib

TEXT_TOP = 20
"""Caches the text view lists; the JSON document lists every cache."""


def slab_doc(state: SystemState) -> dict[str, Any]:
    info = need(state.slabinfo, specs.SLABINFO, state)
    use = slab_use(info)
    ps = state.page_size
    return {"schema": "memstall.slab/1", "notes": list(state.notes), "page_size": ps,
            "version": info.version, "total_bytes": pages_to_bytes(use.total_pages, ps),
            "vfs_bytes": pages_to_bytes(use.vfs_pages, ps),
            "other_reclaimable_bytes": pages_to_bytes(use.other_reclaimable_pages, ps),
            "caches": [{"name": c.name, "bytes": pages_to_bytes(c.slab_pages, ps),
                        "reclaim": reclaim_kind(c.name), "active_objs": c.active_objs,
                        "num_objs": c.num_objs, "objsize_bytes": c.objsize_bytes,
                        "objperslab": c.objperslab, "pagesperslab": c.pagesperslab,
                        "active_slabs": c.active_slabs, "num_slabs": c.num_slabs}
                       for c in use.caches]}


def slab_text(state: SystemState) -> str:
    doc = slab_doc(state)
    ps = state.page_size
    shown = [c for c in doc["caches"] if c["bytes"] > 0][:TEXT_TOP]
    rows = [[c["name"], pages_to_mib(c["num_slabs"] * c["pagesperslab"], ps), c["reclaim"] or "",
             c["active_objs"],
             c["num_objs"], c["objsize_bytes"], c["num_slabs"], c["pagesperslab"]] for c in shown]
    headers = ["cache", "MiB", "reclaim", "active_objs", "num_objs", "objsize", "slabs", "pages/slab"]
    title = (f"Slab caches by memory (proc/slabinfo; num_slabs * pagesperslab * "
             f"{ps // 1024} KiB), top {len(shown)} of {len(doc['caches'])}")
    total = doc["total_bytes"]
    foot = (f"total {human_bytes(total)}; dentry/inode caches (vm.vfs_cache_pressure) "
            f"{human_bytes(doc['vfs_bytes'])}; other reclaimable (buffer_head, radix_tree_node, "
            f"...) {human_bytes(doc['other_reclaimable_bytes'])}\n")
    return render_table(headers, rows, title=title) + foot
