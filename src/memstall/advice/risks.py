"""What can go wrong when each vm knob changes, and what to watch.

Judgement, not a kernel fact, so it lives in advice/ beside the sizing arithmetic;
analysis/sysctl_limits keeps the kernel's facts (ranges, which release has which knob).
`tune plan` shows the risk of a --set change; diagnose's recommendations carry their own,
sized to the host.
"""

from __future__ import annotations

RISKS: dict[str, str] = {
    "vm.min_free_kbytes":
        "Memory nobody else may use: far too high OOMs the host at once, below 1024 kB the kernel "
        "is 'subtly broken'. Once written, the kernel no longer recomputes it on memory hotplug.",
    "vm.watermark_scale_factor":
        "Less memory for page cache: the low and high watermarks rise and kswapd reclaims more on "
        "each wake-up. Watch workingset_refault and pgscan_kswapd.",
    "vm.watermark_boost_factor":
        "0: no extra reclaim after fragmenting fallbacks, so free pageblocks recover more slowly; "
        "higher: bursts of page-cache reclaim.",
    "vm.extfrag_threshold":
        "Lower: more compaction (CPU, page migration) where reclaim would do; higher: costly-order "
        "allocations reclaim instead. Watch compact_stall and compact_fail.",
    "vm.vfs_cache_pressure":
        "Higher: dentries and inodes are re-read from disk; lower: slab grows (0 never reclaims it: "
        "OOM).",
    "vm.vfs_cache_pressure_denom":
        "Rescales vm.vfs_cache_pressure: change the two together or the pressure changes by the "
        "same factor.",
    "vm.compaction_proactiveness":
        "kcompactd CPU time and page migration in the background; 0 disables proactive compaction.",
    "vm.dirty_ratio":
        "Lower: writers are throttled sooner; higher: more dirty page cache that reclaim cannot "
        "free. Writing it zeroes vm.dirty_bytes.",
    "vm.dirty_background_ratio":
        "Lower: more, smaller writeback; higher: dirty data piles up before writeback starts. "
        "Writing it zeroes vm.dirty_background_bytes.",
    "vm.dirty_bytes":
        "Writers are throttled once this much is dirty; too low slows every writer. Writing it "
        "zeroes vm.dirty_ratio.",
    "vm.dirty_background_bytes":
        "Background writeback starts at this much dirty data; too low means constant small writes. "
        "Writing it zeroes vm.dirty_background_ratio.",
    "vm.dirty_expire_centisecs":
        "Lower: more write IO; higher: more dirty data lost in a crash and kept from reclaim.",
    "vm.dirty_writeback_centisecs":
        "Lower: flusher threads wake more often; 0 disables periodic writeback.",
    "vm.swappiness":
        "Higher: anonymous memory is swapped out sooner (latency when it is touched again); lower: "
        "page cache is dropped first (more file re-reads).",
    "vm.zone_reclaim_mode":
        "Non-zero: allocations reclaim on their own node before using free memory on others: stalls "
        "on NUMA hosts.",
    "vm.defrag_mode":
        "1: allocations reclaim and compact rather than fragment pageblocks, so more kswapd and "
        "kcompactd work; meant to be set right after boot.",
    "vm.percpu_pagelist_high_fraction":
        "Larger per-CPU lists: less zone lock contention, more free memory held on per-CPU lists.",
    "vm.overcommit_memory":
        "2: allocations fail beyond CommitLimit (programs that reserve large address spaces break); "
        "1: no check at all, the OOM killer decides.",
    "vm.overcommit_ratio":
        "Only with overcommit_memory = 2: too low fails allocations while RAM is free.",
    "vm.admin_reserve_kbytes":
        "Only with overcommit_memory = 2: too low leaves root no memory to recover a runaway host.",
    "vm.user_reserve_kbytes":
        "Only with overcommit_memory = 2: too low lets one process take the last committable "
        "memory.",
}
