"""NUMA_IMBALANCE — one node is short of memory while another has plenty.

What it detects:
    Per node, free pages against the node's low and high watermarks (summed over its
    zones): a node at or below low while another node is above twice its high.

Why it matters:
    Allocations are node-local first. Each node has its own kswapd and its own zones;
    with vm.zone_reclaim_mode != 0, or with tasks bound by cpuset/mempolicy, a node
    reclaims and stalls while memory on the other node sits unused.

Evidence:
    short_node, short_free_pages, short_low_pages, rich_node, rich_free_pages,
    rich_high_pages, zone_reclaim_mode.

Remediation:
    Keep vm.zone_reclaim_mode at 0 unless the workload is partitioned per node; check
    cpuset.mems / numactl bindings of the big consumers; spread page-cache heavy work.

References:
    Documentation/admin-guide/sysctl/vm.rst (zone_reclaim_mode); mm/vmscan.c node_reclaim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from memstall.rules._base import Inputs, Result, Rule, RuleEvidence, Severity, Skipped, Text, human, missing

KEY = "NUMA_IMBALANCE"
RICH_FACTOR = 2
"""The other node holds more than twice its high watermark free."""


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    short_node: int
    short_free_pages: int
    short_low_pages: int
    rich_node: int
    rich_free_pages: int
    rich_high_pages: int
    zone_reclaim_mode: Optional[int]


TEXT = Text(
    summary="node{short_node} is at its low watermark (free {short_free}) while node{rich_node} "
            "has {rich_free} free",
    explanation="""Node {short_node} has {short_free} free against a low watermark of {short_low},
    so its kswapd is reclaiming and its allocations may stall, while node {rich_node} has
    {rich_free} free, more than twice its high watermark ({rich_high}). Allocations prefer the
    local node; {mode_words}""",
    fix="""Keep vm.zone_reclaim_mode at 0 unless the workload is partitioned per node, and check
    cpuset.mems / numactl bindings and where the page-cache heavy work runs.""",
)


def _node_sums(inputs: Inputs) -> dict[int, tuple[int, int, int]]:
    sums: dict[int, tuple[int, int, int]] = {}
    assert inputs.state.zoneinfo is not None
    for z in inputs.state.zoneinfo.zones:
        if not z.populated:
            continue
        free, low, high = sums.get(z.node, (0, 0, 0))
        sums[z.node] = (free + z.free_pages, low + z.low_pages, high + z.high_pages)
    return sums


def check(inputs: Inputs) -> Result:
    if inputs.state.zoneinfo is None:
        return missing(KEY, inputs, "zone watermarks", "proc/zoneinfo")
    sums = _node_sums(inputs)
    if len(sums) < 2:
        return Skipped(KEY, "zone watermarks for one NUMA node only: nothing to compare")
    short = [n for n, (free, low, _) in sorted(sums.items()) if free <= low]
    rich = [n for n, (free, _, high) in sorted(sums.items()) if free > RICH_FACTOR * high]
    if not short or not rich:
        return ()
    s, r = short[0], max(rich, key=lambda n: sums[n][0])
    sysctl = inputs.state.sysctl_vm
    mode = sysctl.int_value("zone_reclaim_mode") if sysctl else None
    if mode:
        words = (f"vm.zone_reclaim_mode is {mode}, so the kernel reclaims on the local node "
                 "before it uses the other one.")
    else:
        words = ("tasks bound to the node (cpuset, numactl --membind, mempolicy) cannot use the "
                 "other node's memory at all.")
    ps = inputs.state.page_size
    evidence = Evidence(short_node=s, short_free_pages=sums[s][0], short_low_pages=sums[s][1],
                        rich_node=r, rich_free_pages=sums[r][0], rich_high_pages=sums[r][2],
                        zone_reclaim_mode=mode)
    return (TEXT.finding(KEY, Severity.WARNING, f"node{s}", evidence, short_free=human(sums[s][0], ps),
                         short_low=human(sums[s][1], ps), rich_free=human(sums[r][0], ps),
                         rich_high=human(sums[r][2], ps), mode_words=words),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
