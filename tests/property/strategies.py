"""Hypothesis strategies for model objects the kernel could print."""

from __future__ import annotations

from hypothesis import strategies as st

from memstall.model.buddy import BuddyInfo, ZoneFreeAreas
from memstall.model.zones import NodeStats, Zone, ZoneInfo

U64 = st.integers(min_value=0, max_value=2**64 - 1)
REAL_ZONES = ["DMA", "DMA32", "Normal", "HighMem", "Movable", "Device"]
ZONE_NAMES = st.one_of(st.sampled_from(REAL_ZONES),
                       st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True))
NODES = st.integers(min_value=0, max_value=7)
# 11 orders on x86-64 4 KiB; 14 on 64 KiB arm64; 9/13 elsewhere; any count 1..16 here.
ORDERS = st.one_of(st.just(11), st.integers(min_value=1, max_value=16))


@st.composite
def buddyinfo(draw: st.DrawFn) -> BuddyInfo:
    width = draw(ORDERS)
    zones = draw(st.lists(st.builds(ZoneFreeAreas, NODES, ZONE_NAMES,
                                    st.tuples(*[U64] * width)), min_size=1, max_size=24,
                          unique_by=lambda z: (z.node, z.zone)))  # the kernel prints a zone once
    return BuddyInfo(zones=tuple(zones))


COUNTER_NAMES = st.from_regex(r"(nr|numa)_[a-z][a-z_]{0,20}", fullmatch=True)
TRAILER = st.dictionaries(st.sampled_from(["node_unreclaimable", "start_pfn", "vm stats threshold"]), U64)


@st.composite
def zone(draw: st.DrawFn, node: int) -> Zone:
    opt = st.one_of(st.none(), U64)
    return Zone(
        node=node, zone=draw(ZONE_NAMES), free_pages=draw(U64), min_pages=draw(U64),
        low_pages=draw(U64), high_pages=draw(U64), spanned_pages=draw(U64),
        present_pages=draw(U64), managed_pages=draw(opt), boost_pages=draw(opt),
        promo_pages=draw(opt), cma_pages=draw(opt),
        protection_pages=tuple(draw(st.lists(U64, max_size=6))),
        counters=draw(st.dictionaries(COUNTER_NAMES, U64, max_size=8)),
        extra=draw(TRAILER))


@st.composite
def zoneinfo(draw: st.DrawFn) -> ZoneInfo:
    node_ids = sorted(draw(st.sets(NODES, min_size=1, max_size=8)))
    zones: list[Zone] = []
    stats: list[NodeStats] = []
    for n in node_ids:
        zones += draw(st.lists(zone(n), min_size=1, max_size=5, unique_by=lambda z: z.zone))
        if draw(st.booleans()):  # 4.8+ prints per-node stats; older kernels do not
            stats.append(NodeStats(n, draw(st.dictionaries(COUNTER_NAMES, U64, min_size=1, max_size=8))))
    return ZoneInfo(zones=tuple(zones), nodes=tuple(stats))
