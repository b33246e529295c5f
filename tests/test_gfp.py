"""GFP decoding per kernel era (analysis/gfp.py) against real logs and docs/kernel.md#gfp-flags."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import TESTS
from memstall.analysis.gfp import (
    decode_gfp,
    encode_gfp,
    gfp_zone_and_reclaim,
    layout_for,
    name_table,
    parse_gfp_names,
)
from memstall.analysis.gfp_tables import LAYOUTS, NAME_TABLE_VERSIONS
from memstall.model.kernel import KernelVersion

# The repository's copy of the shared corpus (tests/fixtures/kernlog/corpus, with provenance).
CORPUS = TESTS / "fixtures" / "kernlog" / "corpus"


def _events() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(CORPUS.glob("*.expected.json")):
        for i, ev in enumerate(json.loads(path.read_text())["events"]):
            if ev.get("gfp_mode"):
                out.append((f"{path.name.split('-')[0]}#{i}", ev))
    return out


EVENTS = _events()
PRINTED = [(i, e) for i, e in EVENTS if e["gfp_flags"] is not None]
assert len(EVENTS) > 20, f"the corpus copy in {CORPUS} is missing"
HEX_ONLY = [(i, e) for i, e in EVENTS if e["gfp_flags"] is None]

# Printed names the decoder cannot reproduce without the kernel version, with the reason.
GUESS_EXCEPTIONS = {
    # 4.12 THP stall: the stall warning masks __GFP_NOWARN off, leaving 0x4340ca, which without a
    # version reads as a 4.18-5.0 GFP_NOWAIT mask (KSWAPD_RECLAIM is 0x400000 there).
    "006#0",
}


def _kv(ev: dict[str, Any]) -> KernelVersion | None:
    return KernelVersion.parse(ev["kernel_version"]) if ev["kernel_version"] else None


@pytest.mark.parametrize(("eid", "ev"), PRINTED, ids=[i for i, _ in PRINTED])
def test_decoding_reproduces_the_names_the_kernel_printed(eid: str, ev: dict[str, Any]) -> None:
    d = decode_gfp(int(ev["gfp_mode"], 16), _kv(ev))
    assert list(d.names) == ev["gfp_flags"]
    assert d.guessed == (ev["kernel_version"] is None)
    assert d.unknown_bits == 0


@pytest.mark.parametrize(("eid", "ev"), PRINTED, ids=[i for i, _ in PRINTED])
def test_guessed_era_reproduces_the_printed_names(eid: str, ev: dict[str, Any]) -> None:
    d = decode_gfp(int(ev["gfp_mode"], 16), None)
    assert d.guessed
    if eid in GUESS_EXCEPTIONS:
        assert list(d.names) != ev["gfp_flags"], "exception no longer needed: remove it"
    else:
        assert list(d.names) == ev["gfp_flags"]


@pytest.mark.parametrize(("eid", "ev"), HEX_ONLY, ids=[i for i, _ in HEX_ONLY])
def test_hex_only_reports_decode_fully_and_guess_a_pre_4_6_era(eid: str, ev: dict[str, Any]) -> None:
    mask = int(ev["gfp_mode"], 16)
    kv = _kv(ev)
    if kv is not None:
        assert kv < KernelVersion(4, 6)  # %pGg names are printed from 4.6 on
        assert decode_gfp(mask, kv).unknown_bits == 0
    guess = decode_gfp(mask, None)
    assert guess.unknown_bits == 0
    assert guess.names and guess.names[0].startswith("GFP_")
    era_start = next(lay.since for lay in LAYOUTS if lay.era == guess.era)
    assert era_start < (4, 6, 0)


def test_corpus_has_events_of_every_kind_of_era() -> None:
    eras = {layout_for(_kv(e)).era for _, e in PRINTED if _kv(e)}
    assert {"4.5-4.9", "4.10-4.17", "5.1-5.12", "5.18-6.2", "6.3+"} <= eras


# docs/kernel.md#gfp-composite-values, typed from the table (x86-64, no LOCKDEP).
COMPOSITES = {
    (3, 10): {"GFP_KERNEL": 0xD0, "GFP_NOFS": 0x50, "GFP_NOIO": 0x10, "GFP_ATOMIC": 0x20,
              "GFP_HIGHUSER_MOVABLE": 0x200DA, "GFP_TRANSHUGE": 0x4352DA},
    (4, 4): {"GFP_KERNEL": 0x24000C0, "GFP_NOFS": 0x2400040, "GFP_NOIO": 0x2400000,
             "GFP_ATOMIC": 0x2080020, "GFP_HIGHUSER_MOVABLE": 0x24200CA, "GFP_TRANSHUGE": 0x4352CA},
    (4, 9): {"GFP_KERNEL": 0x24000C0, "GFP_NOFS": 0x2400040, "GFP_NOIO": 0x2400000,
             "GFP_ATOMIC": 0x2080020, "GFP_HIGHUSER_MOVABLE": 0x24200CA,
             "GFP_KERNEL_ACCOUNT": 0x25000C0, "GFP_TRANSHUGE": 0x4342CA, "GFP_TRANSHUGE_LIGHT": 0x342CA},
    (4, 14): {"GFP_KERNEL": 0x14000C0, "GFP_NOFS": 0x1400040, "GFP_NOIO": 0x1400000,
              "GFP_ATOMIC": 0x1080020, "GFP_HIGHUSER_MOVABLE": 0x14200CA,
              "GFP_KERNEL_ACCOUNT": 0x15000C0, "GFP_TRANSHUGE": 0x4342CA, "GFP_TRANSHUGE_LIGHT": 0x342CA},
    (4, 19): {"GFP_KERNEL": 0x6000C0, "GFP_NOFS": 0x600040, "GFP_NOIO": 0x600000,
              "GFP_ATOMIC": 0x480020, "GFP_HIGHUSER_MOVABLE": 0x6200CA,
              "GFP_KERNEL_ACCOUNT": 0x7000C0, "GFP_TRANSHUGE": 0x2342CA, "GFP_TRANSHUGE_LIGHT": 0x342CA},
    (5, 10): {"GFP_KERNEL": 0xCC0, "GFP_NOFS": 0xC40, "GFP_NOIO": 0xC00, "GFP_ATOMIC": 0xA20,
              "GFP_HIGHUSER_MOVABLE": 0x100CCA, "GFP_KERNEL_ACCOUNT": 0x400CC0,
              "GFP_TRANSHUGE": 0x1C24CA, "GFP_TRANSHUGE_LIGHT": 0x1C20CA},
    (6, 1): {"GFP_KERNEL": 0xCC0, "GFP_ATOMIC": 0xA20, "GFP_HIGHUSER_MOVABLE": 0x100CCA},
    (6, 6): {"GFP_KERNEL": 0xCC0, "GFP_NOFS": 0xC40, "GFP_NOIO": 0xC00, "GFP_ATOMIC": 0x820,
             "GFP_HIGHUSER_MOVABLE": 0x100CCA, "GFP_KERNEL_ACCOUNT": 0x400CC0,
             "GFP_TRANSHUGE": 0x1C24CA, "GFP_TRANSHUGE_LIGHT": 0x1C20CA},
    (6, 18): {"GFP_NOWAIT": 0x2800, "GFP_KERNEL": 0xCC0},  # 0x2800 seen on 6.18
}


@pytest.mark.parametrize("version", sorted(COMPOSITES), ids=lambda v: f"{v[0]}.{v[1]}")
def test_composite_values_match_facts(version: tuple[int, int]) -> None:
    kv = KernelVersion(*version)
    for name, value in COMPOSITES[version].items():
        assert encode_gfp([name], kv) == value, name
        assert decode_gfp(value, kv).names == (name,), name


# docs/kernel.md#gfp-composite-values cross-checks against real logs (kernel version known from the log).
CROSS_CHECKS = [
    ((3, 10), 0x3000D0, ("GFP_KERNEL", "__GFP_KMEMCG", "__GFP_NOTRACK")),
    ((3, 18), 0x204010, ("GFP_NOIO", "__GFP_COMP", "__GFP_NOTRACK")),
    ((4, 9), 0x24201CA, ("GFP_HIGHUSER_MOVABLE", "__GFP_COLD")),
    ((4, 14), 0x15080C0, ("GFP_KERNEL_ACCOUNT", "__GFP_ZERO")),
    ((4, 15), 0x15000C0, ("GFP_KERNEL_ACCOUNT",)),
    ((5, 4), 0x100CCA, ("GFP_HIGHUSER_MOVABLE",)),
    ((6, 1), 0xCD0, ("GFP_KERNEL", "__GFP_RECLAIMABLE")),
    ((6, 6), 0x140CCA, ("GFP_HIGHUSER_MOVABLE", "__GFP_COMP")),
    ((4, 9), 0x2400000, ("GFP_NOIO",)),  # docs/kernel.md#allocation-stall-message: the 4.9-rc typo's mode
]


@pytest.mark.parametrize(("version", "mask", "names"), CROSS_CHECKS, ids=[hex(m) for _, m, _ in CROSS_CHECKS])
def test_facts_cross_checks(version: tuple[int, int], mask: int, names: tuple[str, ...]) -> None:
    assert decode_gfp(mask, KernelVersion(*version)).names == names


def test_name_order_changed_in_6_15() -> None:
    # 6.15 prints single bits in bit order (TRACE_GFP_FLAGS): ZERO (bit 8) before COMP (bit 18).
    mask = 0xCC0 | 0x100 | 0x40000
    assert decode_gfp(mask, KernelVersion(6, 14)).names == ("GFP_KERNEL", "__GFP_COMP", "__GFP_ZERO")
    assert decode_gfp(mask, KernelVersion(6, 15)).names == ("GFP_KERNEL", "__GFP_ZERO", "__GFP_COMP")


def test_renamed_and_removed_flags_follow_the_version() -> None:
    assert decode_gfp(0x400, KernelVersion(4, 12)).names == ("__GFP_REPEAT",)
    assert decode_gfp(0x400, KernelVersion(4, 13)).names == ("__GFP_RETRY_MAYFAIL",)
    assert decode_gfp(0x14000D0, KernelVersion(4, 13)).names == ("GFP_TEMPORARY",)
    assert decode_gfp(0x14000D0, KernelVersion(4, 14)).names == ("GFP_KERNEL", "__GFP_RECLAIMABLE")
    # 4.15 dropped __GFP_COLD from the list: the bit is printed as a hex remainder.
    d = decode_gfp(0x14000C0 | 0x100, KernelVersion(4, 15))
    assert d.names == ("GFP_KERNEL", "0x100")
    assert d.unknown_bits == 0x100
    assert decode_gfp(0xA20, KernelVersion(6, 3)).names == ("GFP_ATOMIC", "0x200")
    assert decode_gfp(0x2800, KernelVersion(6, 7)).names == ("GFP_NOWAIT", "__GFP_NOWARN")
    assert decode_gfp(0x2800, KernelVersion(6, 8)).names == ("GFP_NOWAIT",)


def test_unknown_high_bits_are_printed_as_the_kernel_does() -> None:
    # format_flags() appends the remainder after a '|': 'GFP_KERNEL|0x1000000' (NO_OBJ_EXT here).
    d = decode_gfp(0xCC0 | 0x1000000, KernelVersion(6, 18))
    assert d.text == "GFP_KERNEL|0x1000000"
    assert d.unknown_bits == 0x1000000
    assert decode_gfp(0, KernelVersion(6, 18)).names == ()


def test_guess_examples_from_the_issue() -> None:
    cases = {0xCC0: "6.3+", 0x24000C0: "4.5-4.9", 0x14000C0: "4.10-4.17", 0x6000C0: "4.18-5.0",
             0xA20: "5.18-6.2", 0xD0: "3.16-4.3", 0x20: "3.16-4.3"}
    for mask, era in cases.items():
        d = decode_gfp(mask, None)
        assert (d.era, d.guessed) == (era, True), hex(mask)
        assert d.names[0] in ("GFP_KERNEL", "GFP_ATOMIC"), hex(mask)


def test_negative_mask_is_rejected() -> None:
    with pytest.raises(ValueError, match="GFP mask"):
        decode_gfp(-1, None)


VERSIONS = st.sampled_from(NAME_TABLE_VERSIONS)
MASKS = st.integers(min_value=0, max_value=2**32 - 1)


@given(VERSIONS, MASKS)
def test_decode_then_encode_gives_the_mask_back(version: tuple[int, int, int], mask: int) -> None:
    d = decode_gfp(mask, KernelVersion(*version))
    assert encode_gfp(d.names, version) == mask
    assert parse_gfp_names("(" + d.text + ")") == d.names
    assert d.unknown_bits == mask & ~encode_gfp([n for n in d.names if not n.startswith("0x")], version)


@given(VERSIONS, st.data())
def test_single_bits_round_trip(version: tuple[int, int, int], data: st.DataObject) -> None:
    table = name_table(version)
    singles = [(n, m) for n, m in table if bin(m).count("1") == 1]
    name, bit = data.draw(st.sampled_from(singles))
    # A composite listed earlier with the same single-bit value wins (GFP_NOIO == __GFP_WAIT
    # before 4.4, GFP_NOWAIT == __GFP_KSWAPD_RECLAIM on 4.4-6.7, GFP_DMA == __GFP_DMA).
    first = next(n for n, m in table if m == bit)
    assert encode_gfp([name], version) == bit
    assert decode_gfp(bit, KernelVersion(*version)).names == (first,)


@given(MASKS)
def test_guess_is_marked_and_round_trips(mask: int) -> None:
    d = decode_gfp(mask, None)
    assert d.guessed
    assert d.era in {lay.era for lay in LAYOUTS}
    assert parse_gfp_names(d.text) == d.names


def test_parse_gfp_names_forms() -> None:
    assert parse_gfp_names("(GFP_KERNEL|__GFP_COMP)") == ("GFP_KERNEL", "__GFP_COMP")
    assert parse_gfp_names(" GFP_ATOMIC ") == ("GFP_ATOMIC",)
    assert parse_gfp_names("()") == ()
    assert parse_gfp_names("") == ()
    assert parse_gfp_names("(GFP_KERNEL|0x1000000)") == ("GFP_KERNEL", "0x1000000")
    with pytest.raises(ValueError, match=r"expected GFP flag names separated by '\|', got '__GFP_'"):
        parse_gfp_names("(GFP_KERNEL|__GFP_")


@given(st.text())
def test_parse_gfp_names_only_raises_value_error(text: str) -> None:
    try:
        names = parse_gfp_names(text)
    except ValueError:
        return
    assert all(n.startswith(("GFP_", "__GFP_", "0x")) for n in names)


def test_zone_and_reclaim_of_common_masks() -> None:
    k = gfp_zone_and_reclaim(("GFP_KERNEL",))
    assert (k.zone, k.migratetype, k.direct_reclaim, k.kswapd_reclaim, k.atomic) == (
        "Normal", "Unmovable", True, True, False)
    a = gfp_zone_and_reclaim(("GFP_ATOMIC", "__GFP_COMP"))
    assert (a.direct_reclaim, a.atomic, a.high, a.comp, a.kswapd_reclaim) == (False, True, True, True, True)
    m = gfp_zone_and_reclaim(("GFP_HIGHUSER_MOVABLE", "__GFP_ZERO"))
    assert (m.zone, m.migratetype, m.zero) == ("Movable", "Movable", True)
    t = gfp_zone_and_reclaim(("GFP_TRANSHUGE_LIGHT",))
    assert (t.direct_reclaim, t.kswapd_reclaim, t.transhuge, t.nowarn) == (False, False, True, True)
    assert gfp_zone_and_reclaim(("GFP_TRANSHUGE",)).direct_reclaim
    assert gfp_zone_and_reclaim(("GFP_DMA32", "GFP_KERNEL")).zone == "DMA32"
    assert gfp_zone_and_reclaim(("GFP_KERNEL", "__GFP_NORETRY")).noretry
    assert gfp_zone_and_reclaim(("GFP_TEMPORARY",)).migratetype == "Reclaimable"  # only known <= 4.13


def test_zone_and_reclaim_depends_on_the_era() -> None:
    assert gfp_zone_and_reclaim(("GFP_NOWAIT",), KernelVersion(6, 8)).nowarn
    assert not gfp_zone_and_reclaim(("GFP_NOWAIT",), KernelVersion(6, 7)).nowarn
    # 4.6-4.7: GFP_TRANSHUGE had no reclaim bits at all; 4.8+ adds __GFP_DIRECT_RECLAIM.
    assert not gfp_zone_and_reclaim(("GFP_TRANSHUGE",), KernelVersion(4, 7)).direct_reclaim
    assert gfp_zone_and_reclaim(("GFP_TRANSHUGE",), KernelVersion(4, 8)).direct_reclaim
    old = gfp_zone_and_reclaim(("GFP_KERNEL", "__GFP_NO_KSWAPD"), KernelVersion(3, 10))
    assert (old.direct_reclaim, old.kswapd_reclaim) == (True, False)
    assert gfp_zone_and_reclaim(("GFP_KERNEL", "__GFP_KMEMCG"), KernelVersion(3, 10)).account
    with pytest.raises(ValueError, match="not a GFP flag name"):
        gfp_zone_and_reclaim(("__GFP_WAIT",), KernelVersion(5, 10))


def test_layouts_are_ordered_and_bits_distinct() -> None:
    assert [lay.since for lay in LAYOUTS] == sorted(lay.since for lay in LAYOUTS)
    for lay in LAYOUTS:
        values = list(lay.bits.values())
        assert len(values) == len(set(values)), lay.era
        assert all(bin(v).count("1") == 1 for v in values), lay.era


def test_docstring_examples() -> None:
    import doctest

    from memstall.analysis import gfp

    result = doctest.testmod(gfp)
    assert result.attempted >= 4
    assert result.failed == 0
