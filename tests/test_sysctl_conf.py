"""parsers/sysctl_conf: the sysctl.d(5) syntax, real samples, strict errors, properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memstall.errors import ParseError
from memstall.model.sysctl_conf import SysctlAssignment, SysctlConf
from memstall.model.sysctl_name import sysctl_key
from memstall.parsers.sysctl_conf import format_sysctl_conf, parse_sysctl_conf

SAMPLES = Path(__file__).parent / "fixtures" / "samples" / "sysctl_conf"
VALID = sorted((SAMPLES / "valid").glob("*.conf"))
INVALID = sorted((SAMPLES / "invalid").glob("*.conf"))


def _doc(conf: SysctlConf) -> dict[str, object]:
    return {"assignments": [[a.line_no, a.key, a.value, a.ignore_failure] for a in conf.assignments],
            "ignored": [[i.line_no, i.line, i.reason] for i in conf.ignored]}


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_samples_match_golden(path: Path, update_golden: bool) -> None:
    got = json.dumps(_doc(parse_sysctl_conf(path.read_text(), path.name, strict=True)), indent=1) + "\n"
    golden = path.with_suffix(".expected.json")
    if update_golden:
        golden.write_text(got)
    assert got == golden.read_text()


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_samples_exact_error(path: Path, update_golden: bool) -> None:
    with pytest.raises(ParseError) as info:
        parse_sysctl_conf(path.read_text(), f"etc/sysctl.d/{path.name}", strict=True)
    golden = path.with_suffix(".expected.txt")
    if update_golden:
        golden.write_text(str(info.value) + "\n")
    assert str(info.value) + "\n" == golden.read_text()
    # Not strict: the same line is kept as ignored, as systemd-sysctl does.
    lenient = parse_sysctl_conf(path.read_text())
    assert [i.line_no for i in lenient.ignored] == [info.value.line_no]


def test_syntax_forms() -> None:
    text = ("# comment\n; comment\n\n  vm.swappiness = 10  \nvm/dirty_ratio=20\r\n"
            "-vm.nonexistent = 1\nnet.ipv4.conf.*.rp_filter = 2\n-net.ipv4.conf.lo.rp_filter\n"
            "net.ipv4.conf.enp3s0/200.forwarding = 1\nkernel.printk = 3 4 1 3\nvm.a = 1 # no inline\n")
    conf = parse_sysctl_conf(text)
    assert conf.assignments == (
        SysctlAssignment(4, "vm/swappiness", "10"),
        SysctlAssignment(5, "vm/dirty_ratio", "20"),
        SysctlAssignment(6, "vm/nonexistent", "1", ignore_failure=True),
        SysctlAssignment(7, "net/ipv4/conf/*/rp_filter", "2"),
        SysctlAssignment(8, "net/ipv4/conf/lo/rp_filter", None),
        SysctlAssignment(9, "net/ipv4/conf/enp3s0.200/forwarding", "1"),
        SysctlAssignment(10, "kernel/printk", "3 4 1 3"),
        SysctlAssignment(11, "vm/a", "1 # no inline"),
    )
    assert conf.assignments[3].is_glob and conf.assignments[4].is_exclusion
    assert conf.assignments[5].name == "net.ipv4.conf.enp3s0/200.forwarding"
    assert conf.values()["vm/swappiness"] == "10"
    assert conf.ignored == ()


def test_slash_first_names_keep_their_dots() -> None:
    assert sysctl_key("net/ipv4/conf/enp3s0.200/forwarding") == "net/ipv4/conf/enp3s0.200/forwarding"
    assert sysctl_key("vm.swappiness") == "vm/swappiness"


def test_later_line_wins_in_values() -> None:
    assert parse_sysctl_conf("vm.x = 1\nvm/x = 2\n").values() == {"vm/x": "2"}


def test_strict_error_message() -> None:
    with pytest.raises(ParseError) as info:
        parse_sysctl_conf("vm.x = 1\ngarbage\n", "etc/sysctl.d/90-memstall.conf", strict=True)
    assert str(info.value) == ("etc/sysctl.d/90-memstall.conf:2: expected 'key = value', '-key = value' "
                               "or '-key' (not an assignment (no '=')), got 'garbage'")


names = st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True), min_size=1, max_size=4)
values = st.from_regex(r"[0-9A-Za-z_ .:-]{0,16}", fullmatch=True).map(str.strip)


@given(st.lists(st.tuples(names, values), max_size=8))
def test_round_trip(items: list[tuple[list[str], str]]) -> None:
    pairs = [("/".join(parts), value) for parts, value in items]
    text = format_sysctl_conf(pairs, header="written by a test\n")
    conf = parse_sysctl_conf(text, strict=True)
    assert [(a.key, a.value) for a in conf.assignments] == pairs


@given(st.text(max_size=300))
def test_never_crashes(text: str) -> None:
    try:
        conf = parse_sysctl_conf(text, strict=True)
    except ParseError as err:
        assert err.line_no >= 1
        return
    for a in conf.assignments:
        assert a.key and not any(c.isspace() for c in a.key)


@given(st.text(max_size=300))
def test_lenient_accounts_for_every_line(text: str) -> None:
    conf = parse_sysctl_conf(text)
    meaningful = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("#", ";"))]
    assert len(conf.assignments) + len(conf.ignored) == len(meaningful)
