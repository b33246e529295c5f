"""proc/slabinfo and sys/kernel/mm/hugepages: what the kernel could print parses back equal;
any other text is a ParseError naming the file and line, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memstall.errors import ParseError
from memstall.model.meminfo import HugePagePool
from memstall.model.slab import SlabCache, SlabInfo
from memstall.parsers.hugepages import parse_hugepages
from memstall.parsers.slabinfo import parse_slabinfo

_NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9_:.()-]{0,30}", fullmatch=True)
_N = st.integers(min_value=0, max_value=2**40)


@st.composite
def caches(draw: st.DrawFn) -> SlabCache:
    return SlabCache(draw(_NAME), *(draw(_N) for _ in range(11)))


def _format(info: SlabInfo) -> str:
    """mm/slab_common.c print_slabinfo_header + cache_show."""
    out = [f"slabinfo - version: {info.version}",
           "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
           " : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs>"
           " <sharedavail>"]
    for c in info.caches:
        out.append(f"{c.name:<17} {c.active_objs:6} {c.num_objs:6} {c.objsize_bytes:6} "
                   f"{c.objperslab:4} {c.pagesperslab:4} : tunables {c.limit:4} {c.batchcount:4} "
                   f"{c.sharedfactor:4} : slabdata {c.active_slabs:6} {c.num_slabs:6} {c.sharedavail:6}")
    return "\n".join(out) + "\n"


@given(st.lists(caches(), max_size=8), st.sampled_from(["2.1", "2.1 (statistics)"]))
def test_slabinfo_round_trip(cs: list[SlabCache], version: str) -> None:
    info = SlabInfo(version, tuple(cs))
    assert parse_slabinfo(_format(info)) == info


@given(st.text(max_size=300))
def test_slabinfo_garbage_is_a_parse_error_naming_the_file(text: str) -> None:
    try:
        parse_slabinfo("slabinfo - version: 2.1\n" + text)
    except ParseError as err:
        assert str(err).startswith("proc/slabinfo:")


@given(st.lists(caches(), min_size=1, max_size=3))
def test_slabinfo_other_versions_are_refused_at_line_1(cs: list[SlabCache]) -> None:
    text = _format(SlabInfo("2.0", tuple(cs)))
    with pytest.raises(ParseError, match=r"^proc/slabinfo:1: expected 'slabinfo - version: 2.1'"):
        parse_slabinfo(text)


@given(st.dictionaries(st.integers(min_value=1, max_value=2**24),
                       st.tuples(st.integers(0, 2**31), st.integers(0, 2**31)), max_size=4))
def test_hugepages_round_trip(pools: dict[int, tuple[int, int]]) -> None:
    base = "sys/kernel/mm/hugepages"
    files = {}
    for size, (nr, free) in pools.items():
        files[f"{base}/hugepages-{size}kB/nr_hugepages"] = f"{nr}\n"
        files[f"{base}/hugepages-{size}kB/free_hugepages"] = f"{free}\n"
        files[f"{base}/hugepages-{size}kB/resv_hugepages"] = "0\n"
    expected = tuple(HugePagePool(size, nr, free) for size, (nr, free) in sorted(pools.items()))
    assert parse_hugepages(files) == expected
