"""analysis/fragmentation.py: the kernel's indices, computed branch included, digit for digit.

Cases from docs/kernel.md#fragmentation-index and real buddyinfo + debugfs pairs captured from a
fragmented QEMU guest (tests/fixtures/samples/extfrag/<name>/: buddyinfo_before,
extfrag_index, unusable_index, buddyinfo_after; compared only when before == after).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memstall.analysis.fragmentation import (
    WOULD_SUCCEED,
    contig_page_info,
    extfrag_for_order,
    format_extfrag_milli,
    format_unusable_milli,
    fragmentation_index_milli,
    fragmentation_indices,
    unusable_index_milli,
    unusable_indices,
)
from memstall.parsers.buddyinfo import parse_buddyinfo
from memstall.parsers.extfrag import parse_extfrag

PAIRS = sorted(p for p in (Path(__file__).parent / "fixtures" / "samples" / "extfrag").glob("*")
               if p.is_dir())


def test_facts_many_small_blocks_give_1000() -> None:
    # docs/kernel.md#fragmentation-index: 50000 free order-0 pages, order 10 -> 1000 (fragmentation).
    blocks = [50000] + [0] * 10
    assert fragmentation_index_milli(blocks, 10) == 1000
    assert format_extfrag_milli(1000) == " 1.000"


def test_facts_one_order9_block_gives_minus_500() -> None:
    # docs/kernel.md#fragmentation-index: one free order-9 block, order 10 -> 1000 - (1000 + 500) // 1 = -500.
    blocks = [0] * 9 + [1, 0]
    assert fragmentation_index_milli(blocks, 10) == -500
    assert format_extfrag_milli(-500) == " 0.-500"
    assert fragmentation_index_milli(blocks, 9) == WOULD_SUCCEED


def test_no_free_memory_is_0_fragmentation_and_1000_unusable() -> None:
    blocks = [0] * 11
    assert fragmentation_indices(blocks) == (0,) * 11
    assert unusable_indices(blocks) == (1000,) * 11
    assert format_unusable_milli(1000) == "1.000"
    assert extfrag_for_order(blocks, 3) == 0


def test_contig_info_follows_fill_contig_page_info() -> None:
    info = contig_page_info([3, 2, 1, 1], 2)
    assert (info.free_pages, info.free_blocks_total, info.free_blocks_suitable) == (3 + 4 + 4 + 8, 7, 1 + 2)


def test_unusable_index_worked_example() -> None:
    # 10 free pages as 2 order-0 + 2 order-2 blocks: at order 1, 2 of 10 pages are unusable.
    blocks = [2, 0, 2]
    assert unusable_index_milli(blocks, 1) == 200
    assert extfrag_for_order(blocks, 1) == 20
    assert unusable_index_milli(blocks, 3) == 1000


def test_printing_of_every_branch() -> None:
    # C "%03d" counts the minus sign in the width: -1 prints "-01", not "-001".
    assert [format_extfrag_milli(v) for v in (WOULD_SUCCEED, 0, 7, 937, -999, -1, -42)] == \
        ["-1.000", " 0.000", " 0.007", " 0.937", " 0.-999", " 0.-01", " 0.-42"]
    assert [format_unusable_milli(v) for v in (0, 65, 999)] == ["0.000", "0.065", "0.999"]


def test_qemu_pairs_are_present() -> None:
    # The captured pairs are the only real data for the computed branch; never skip silently.
    assert PAIRS, "tests/fixtures/samples/extfrag/ holds no captured pairs"


def _kernel_tokens(line: str) -> list[str]:
    # debugfs prints "%2d.%03d " per order; split on the zone name, keep the exact fields.
    return line.split()[4:]


@pytest.mark.parametrize("pair", PAIRS, ids=[p.name for p in PAIRS])
def test_recomputed_strings_equal_debugfs_digit_for_digit(pair: Path) -> None:
    before = (pair / "buddyinfo_before").read_text()
    after = (pair / "buddyinfo_after").read_text()
    assert before == after, "pair captured while buddyinfo changed: recapture it"
    buddy = parse_buddyinfo(before)
    compared = 0
    for name, fmt, compute in (("extfrag_index", format_extfrag_milli, fragmentation_index_milli),
                               ("unusable_index", format_unusable_milli, unusable_index_milli)):
        path = pair / name
        if not path.exists():
            continue
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        parsed = parse_extfrag(path.read_text())
        assert len(lines) == len(parsed.zones)
        for line, zone in zip(lines, parsed.zones):
            areas = buddy.zone(zone.node, zone.zone)
            assert areas is not None, f"{zone.node}/{zone.zone} not in buddyinfo"
            mine = [compute(areas.free_blocks, o) for o in range(len(areas.free_blocks))]
            assert mine == list(zone.values_milli)
            # The kernel's "%2d.%03d" pads with a space; split() drops it, so strip ours too.
            assert [fmt(v).strip() for v in mine] == _kernel_tokens(line)
            compared += len(mine)
    assert compared > 0


def test_qemu_pairs_exercise_the_computed_branch() -> None:
    values = []
    for pair in PAIRS:
        path = pair / "extfrag_index"
        if path.exists():
            values += [v for z in parse_extfrag(path.read_text()).zones for v in z.values_milli]
    assert any(v != WOULD_SUCCEED for v in values)


def test_every_printable_value_parses_back() -> None:
    values = list(range(-999, 1001))
    line = "Node 0, zone   Normal " + " ".join(format_extfrag_milli(v) for v in values) + " \n"
    assert parse_extfrag(line).zones[0].values_milli == (*values,)
    line = "Node 0, zone   Normal " + " ".join(format_unusable_milli(v) for v in range(1001)) + " \n"
    assert parse_extfrag(line).zones[0].values_milli == tuple(range(1001))
    assert parse_extfrag("Node 0, zone DMA -1.000\n").zones[0].values_milli == (WOULD_SUCCEED,)


def test_negative_values_exist_in_the_computed_branch() -> None:
    # Few, large-ish blocks: (1000 + 1000*free/requested) // total > 1000 -> negative index.
    assert fragmentation_index_milli([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], 10) == -500
    # One free order-3 block, order 10: 1000 - (1000 + 8000 // 1024) // 1 = -7, printed " 0.-07".
    one_order3 = [0, 0, 0, 1] + [0] * 7
    assert fragmentation_index_milli(one_order3, 10) == -7
    assert format_extfrag_milli(fragmentation_index_milli(one_order3, 10)) == " 0.-07"
