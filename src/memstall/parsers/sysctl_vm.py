"""sysctl_vm — the files of /proc/sys/vm

Each file holds one value (or a tab-separated list, such as lowmem_reserve_ratio). This
module turns {name: file text} into the model; the reader decides which files exist.

>>> parse_sysctl_vm({"min_free_kbytes": "67584\\n"}).int_value("min_free_kbytes")
67584
"""

from __future__ import annotations

from collections.abc import Mapping

from memstall.errors import ParseError
from memstall.model.sysctl import SysctlVm

# Integer-valued knobs memstall reasons about; a non-integer there is an error.
INTEGER_KNOBS = frozenset({
    "min_free_kbytes", "watermark_scale_factor", "watermark_boost_factor",
    "extfrag_threshold", "vfs_cache_pressure", "compaction_proactiveness",
    "dirty_ratio", "dirty_background_ratio", "dirty_bytes", "dirty_background_bytes",
    "swappiness", "zone_reclaim_mode", "percpu_pagelist_high_fraction", "defrag_mode",
    "vfs_cache_pressure_denom", "overcommit_memory", "nr_hugepages",
})


def parse_sysctl_vm(files: Mapping[str, str], dir_path: str = "proc/sys/vm") -> SysctlVm:
    values: dict[str, str] = {}
    for name, text in files.items():
        value = text.strip()
        if name in INTEGER_KNOBS:
            token = value.split()[0] if value.split() else ""
            body = token[1:] if token.startswith("-") else token
            if not (body.isascii() and body.isdigit()):
                raise ParseError(f"{dir_path}/{name}", 1, value, "an integer")
        values[name] = value
    return SysctlVm(values=values)
