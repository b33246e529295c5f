"""Mem-Info token parser: round trip through kernel-format text broken at random places."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from memstall.model.kernlog import MemInfoDump
from memstall.parsers.kernlog.meminfo import parse_mem_info

ZONES = ["DMA", "DMA32", "Normal", "HighMem", "Movable"]
KB = st.integers(0, 10**12)


@st.composite
def zone_and_buddy(draw: st.DrawFn) -> dict[str, object]:
    node = draw(st.one_of(st.none(), st.integers(0, 7)))
    zone = draw(st.sampled_from(ZONES))
    free, wmin, low, high = (draw(KB) for _ in range(4))
    base = draw(st.sampled_from([4, 8, 16, 64]))
    counts = draw(st.lists(st.integers(0, 10**7), min_size=1, max_size=14))
    types = [draw(st.sampled_from(["", "U", "UME", "C", "H", "R"])) if c else "" for c in counts]
    reserve = draw(st.lists(st.integers(0, 10**8), min_size=1, max_size=5))
    return {"node": node, "zone": zone, "free": free, "min": wmin, "low": low, "high": high,
            "boost": draw(st.one_of(st.none(), KB)), "base": base, "counts": counts, "types": types,
            "reserve": reserve}


def _lines(z: dict[str, object]) -> list[str]:
    prefix = "" if z["node"] is None else f"Node {z['node']} "
    boost = "" if z["boost"] is None else f" boost:{z['boost']}kB"
    zone_line = (f"{prefix}{z['zone']} free:{z['free']}kB{boost} min:{z['min']}kB low:{z['low']}kB "
                 f"high:{z['high']}kB reserved_highatomic:0KB active_anon:1kB present:9kB managed:8kB")
    reserve = "lowmem_reserve[]: " + " ".join(str(r) for r in z["reserve"])  # type: ignore[attr-defined]
    cells = []
    total = 0
    for k, (c, t) in enumerate(zip(z["counts"], z["types"])):  # type: ignore[call-overload]
        size = z["base"] << k  # type: ignore[operator]
        total += c * size
        cells.append(f"{c}*{size}kB" + (f" ({t})" if t else ""))
    buddy = f"{prefix}{z['zone']}: " + " ".join(cells) + f" = {total}kB"
    return [zone_line, reserve, buddy]


def _rewrap(lines: list[str], cuts: list[int]) -> list[str]:
    """Join everything, then break it again at word boundaries (mail wrapping, KERN_CONT pieces)."""
    words = " ".join(lines).split(" ")
    out, cur = [], []
    for i, w in enumerate(words):
        cur.append(w)
        if i in cuts:
            out.append(" ".join(cur))
            cur = []
    return [*out, " ".join(cur)] if cur else out


@settings(deadline=None)
@given(st.lists(zone_and_buddy(), min_size=1, max_size=4), st.lists(st.integers(0, 400), max_size=40))
def test_zone_and_buddy_lines_survive_any_wrapping(zones: list[dict[str, object]], cuts: list[int]) -> None:
    text = ["free:5 free_pcp:1"]
    for z in zones:
        text += _lines(z)
    dump = parse_mem_info(["Mem-Info:", *_rewrap(text, cuts)], "prop", 1, complete=True)
    assert isinstance(dump, MemInfoDump)
    assert [(x.node, x.zone, x.free_kb, x.min_kb, x.low_kb, x.high_kb, x.boost_kb) for x in dump.zones] == [
        (z["node"], z["zone"], z["free"], z["min"], z["low"], z["high"], z["boost"]) for z in zones]
    assert [x.lowmem_reserve for x in dump.zones] == [tuple(z["reserve"]) for z in zones]  # type: ignore[arg-type]
    assert [(b.node, b.zone, b.base_kb, b.counts, b.adds_up) for b in dump.buddy] == [
        (z["node"], z["zone"], z["base"], tuple(z["counts"]), True) for z in zones]  # type: ignore[arg-type]
    assert [b.types for b in dump.buddy] == [tuple(z["types"]) for z in zones]  # type: ignore[arg-type]
    assert dump.summary_pages == {"free": 5, "free_pcp": 1}


@settings(deadline=2000)
@given(st.lists(st.text(max_size=120), max_size=40), st.booleans())
def test_any_text_parses_or_is_ignored(lines: list[str], complete: bool) -> None:
    dump = parse_mem_info(lines, "random", 1, complete)
    assert isinstance(dump, MemInfoDump)
    for b in dump.buddy:
        assert b.adds_up is None or b.total_kb is not None
