"""Round trips: a model the kernel could print, written in kernel format, parses back equal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from strategies import NODES, U64, ZONE_NAMES, buddyinfo, zoneinfo

from memstall.model.buddy import BuddyInfo
from memstall.model.extfrag import ExtfragIndexFile, ZoneIndex
from memstall.model.kthreads import KThreadStat
from memstall.model.meminfo import MemInfo
from memstall.model.pagetypeinfo import MigrateFreeAreas, PageTypeInfo, ZoneBlockCounts
from memstall.model.pressure import Pressure, PressureLine
from memstall.model.vmstat import VmStat
from memstall.model.zones import ZoneInfo
from memstall.outputs.kernel_text import (
    format_buddyinfo,
    format_extfrag,
    format_kthread_stat,
    format_meminfo,
    format_pagetypeinfo,
    format_psi,
    format_thp_choice,
    format_vmstat,
    format_zoneinfo,
)
from memstall.parsers.buddyinfo import parse_buddyinfo
from memstall.parsers.extfrag import parse_extfrag
from memstall.parsers.kthread_stat import parse_kthread_stat
from memstall.parsers.meminfo import parse_meminfo
from memstall.parsers.pagetypeinfo import parse_pagetypeinfo
from memstall.parsers.psi import parse_psi
from memstall.parsers.thp import parse_thp_choice
from memstall.parsers.vmstat import parse_vmstat
from memstall.parsers.zoneinfo import parse_zoneinfo


@given(buddyinfo())
def test_buddyinfo(info: BuddyInfo) -> None:
    assert parse_buddyinfo(format_buddyinfo(info)) == info


@given(zoneinfo(), st.lists(st.tuples(U64, U64, U64), max_size=3))
def test_zoneinfo(info: ZoneInfo, cpu_pagesets: list[tuple[int, int, int]]) -> None:
    """With or without per-cpu pageset lines, which the model does not keep."""
    assert parse_zoneinfo(format_zoneinfo(info, cpu_pagesets)) == info


VMSTAT_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,30}", fullmatch=True)


@given(st.dictionaries(VMSTAT_NAMES, st.integers(-(2**63), 2**64 - 1), min_size=1))
def test_vmstat(counters: dict[str, int]) -> None:
    assert parse_vmstat(format_vmstat(VmStat(counters))) == VmStat(counters)


MEMINFO_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_()]{0,20}", fullmatch=True)


@given(st.dictionaries(MEMINFO_NAMES, U64, min_size=1), st.dictionaries(MEMINFO_NAMES, U64))
def test_meminfo(kib: dict[str, int], counts: dict[str, int]) -> None:
    counts = {k: v for k, v in counts.items() if k not in kib}
    m = MemInfo(fields_kib=kib, counts=counts)
    assert parse_meminfo(format_meminfo(m)) == m


AVG = st.integers(0, 10000).map(lambda n: n / 100)
PSI_LINE = st.builds(PressureLine, AVG, AVG, AVG, U64)


@given(PSI_LINE, st.one_of(st.none(), PSI_LINE))
def test_psi(some: PressureLine, full: PressureLine | None) -> None:
    p = Pressure(some, full)
    assert parse_psi(format_psi(p)) == p


@given(st.lists(st.builds(ZoneIndex, NODES, ZONE_NAMES,
                          st.lists(st.integers(-1000, 1000), min_size=1, max_size=16).map(tuple)),
                min_size=1, max_size=8))
def test_extfrag_index(zones: list[ZoneIndex]) -> None:
    f = ExtfragIndexFile(tuple(zones))
    assert parse_extfrag(format_extfrag(f)) == f


@given(st.lists(st.builds(ZoneIndex, NODES, ZONE_NAMES,
                          st.lists(st.integers(0, 1000), min_size=1, max_size=16).map(tuple)),
                min_size=1, max_size=8))
def test_unusable_index(zones: list[ZoneIndex]) -> None:
    f = ExtfragIndexFile(tuple(zones))
    assert parse_extfrag(format_extfrag(f, unusable=True)) == f


COMM = st.text(st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"]), max_size=16)


@given(st.builds(KThreadStat, st.integers(1, 2**22), COMM, st.sampled_from("RSDIZT"), U64, U64, U64))
def test_kthread_stat(s: KThreadStat) -> None:
    assert parse_kthread_stat(format_kthread_stat(s)) == s


@given(st.lists(st.from_regex(r"[a-z+]{1,14}", fullmatch=True), min_size=1, max_size=6, unique=True),
       st.data())
def test_thp_choice(choices: list[str], data: st.DataObject) -> None:
    chosen = data.draw(st.sampled_from(choices))
    assert parse_thp_choice(format_thp_choice(choices, chosen)) == chosen


TYPES = st.lists(st.sampled_from(["Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA",
                                  "Isolate", "Reserve"]), min_size=1, max_size=7, unique=True)


@st.composite
def pagetypeinfo(draw: st.DrawFn) -> tuple[PageTypeInfo, int, list[str]]:
    orders = draw(st.integers(1, 16))
    types = draw(TYPES)
    zones = draw(st.lists(st.tuples(NODES, ZONE_NAMES), min_size=1, max_size=4))
    free = []
    for node, name in zones:
        for t in types:
            counts = draw(st.lists(st.integers(0, 2**40), min_size=orders, max_size=orders))
            # 5.5+ stops counting at 100000 and prints ">100000".
            capped = tuple(o for o in range(orders) if draw(st.booleans()))
            counts = [100000 if o in capped else n for o, n in enumerate(counts)]
            free.append(MigrateFreeAreas(node, name, t, tuple(counts), capped))
    blocks = tuple(ZoneBlockCounts(n, z, {t: draw(st.integers(0, 2**32)) for t in types}) for n, z in zones)
    mixed = draw(st.one_of(st.just(()), st.just(blocks)))
    order = draw(st.integers(0, 20))
    return PageTypeInfo(order, 1 << order, tuple(free), blocks, mixed), orders, types


@given(pagetypeinfo())
def test_pagetypeinfo(case: tuple[PageTypeInfo, int, list[str]]) -> None:
    p, orders, types = case
    assert parse_pagetypeinfo(format_pagetypeinfo(p, orders, types)) == p
