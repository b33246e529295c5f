"""Issue 16: the same report under every prefix gives the plain report's analysis.

OOMAnalyser's own variants (../shared/peer-parity/oomanalyser/*_prefix_*, *_journalctl_*) and
the prefixes its tests do not carry (journalctl short-iso/-precise/-monotonic, `dmesg -T` in
other locales, a text priority alone) put before every line of its plain reports. Compared:
`memstall logs --format json` minus the fields the prefix itself supplies (host, time, uptime,
the file name and line numbers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHARED, run_cli
from memstall.parsers.kernlog import scan_text
from memstall.parsers.kernlog.unwrap import unwrap

OOMA = SHARED / "peer-parity" / "oomanalyser"
PLAIN = ("rhel7", "archlinux_6_1_1", "ubuntu2110")
PREFIX_FIELDS = frozenset({"host", "time", "uptime_s", "source", "line_no"})
PREFIXES = {
    "journal-short-iso": "2024-04-01T14:13:32+0200 mysrv kernel: ",
    "journal-short-iso-precise": "2024-04-01T14:13:32.123456+02:00 mysrv kernel: ",
    "journal-short-precise": "Apr 01 14:13:32.123456 mysrv kernel: ",
    "journal-short-monotonic": "[11686.888109] mysrv kernel: ",
    "syslog-no-tag": "Apr 01 14:13:32 mysrv: ",
    "text-priority": "<kern.warning> ",
    "syslog-text-priority": "Apr 01 14:13:32 mysrv <kern.warning> kernel: ",
    "dmesg-T-de": "[Di Aug 12 10:11:12 2025] ",
    "dmesg-T-fr": "[mar. août 12 10:11:12 2025] ",
    "dmesg-T-es": "[mar ago 12 10:11:12 2025] ",
    "dmesg-T-ja": "[火  8月 12 10:11:12 2025] ",
}


def _analysis(path: Path) -> list[dict[str, Any]]:
    r = run_cli("--format", "json", "logs", str(path))
    assert r.code == 0, r.err
    events = [{k: v for k, v in e.items() if k not in PREFIX_FIELDS} for e in json.loads(r.out)["events"]]
    for e in events:
        if e.get("mem_info"):
            e["mem_info"] = {k: v for k, v in e["mem_info"].items() if k not in ("source", "line_no")}
    return events


def _peer_variants() -> list[tuple[str, Path]]:
    out = []
    for plain in PLAIN:
        out += [(plain, p) for p in sorted(OOMA.glob(f"{plain.split('_')[0]}*_prefix_*.log"))
                if p.name.startswith(plain)]
        out += [(plain, p) for p in sorted(OOMA.glob(f"{plain}_journalctl_*.log"))]
    return out


@pytest.mark.parametrize(("plain", "variant"), _peer_variants(), ids=lambda x: getattr(x, "name", x))
def test_every_peer_variant_gives_the_plain_analysis(plain: str, variant: Path) -> None:
    base = _analysis(OOMA / f"{plain}.log")
    assert base and base[0]["comm"] and base[0]["pid"] and base[0]["mem_info"]
    assert _analysis(variant) == base


@pytest.mark.parametrize("plain", PLAIN)
@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_every_prefix_gives_the_plain_analysis(tmp_path: Path, plain: str, name: str) -> None:
    text = (OOMA / f"{plain}.log").read_text(encoding="utf-8")
    variant = tmp_path / f"{plain}-{name}.log"
    variant.write_text("".join(PREFIXES[name] + line + "\n" for line in text.splitlines()), encoding="utf-8")
    base = _analysis(OOMA / f"{plain}.log")
    got = _analysis(variant)
    assert got == base
    assert base[0]["killed"] and got[0]["killed"] == base[0]["killed"]


def test_prefix_fields_are_read_from_the_new_shapes() -> None:
    assert unwrap("Apr 01 14:13:32 mysrv: sed invoked oom-killer").host == "mysrv"
    u = unwrap("Apr 01 14:13:32 mysrv <kern.warning> kernel: CPU: 4 PID: 1 Comm: sed")
    assert (u.host, u.body) == ("mysrv", "CPU: 4 PID: 1 Comm: sed")
    assert unwrap("<kern.warning> Mem-Info:").body == "Mem-Info:"
    for stamp in ("Di Aug 12 10:11:12 2025", "mar. août 12 10:11:12 2025", "火  8月 12 10:11:12 2025",
                  "Вт авг  2 10:11:12 2025"):
        u = unwrap(f"[{stamp}] Mem-Info:")
        assert (u.stamp, u.body) == (stamp, "Mem-Info:")


_WORD = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Lo")), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(day=_WORD, dot=st.sampled_from(["", "."]), month=_WORD, mday=st.integers(1, 31),
       pad=st.sampled_from([" ", "  "]))
def test_any_bracketed_human_date_is_a_stamp_and_the_report_is_unchanged(
        day: str, dot: str, month: str, mday: int, pad: str) -> None:
    """Property: `dmesg -T` in any locale (any day and month words) is stripped as a stamp,
    and the report under it is the plain report (comm, pid, order, killed line, Mem-Info)."""
    stamp = f"{day}{dot} {month}{pad}{mday} 10:11:12 2025"
    plain = (OOMA / "rhel7.log").read_text(encoding="utf-8").splitlines()
    base = scan_text("\n".join(plain)).events[0]
    got = scan_text("\n".join(f"[{stamp}] {line}" for line in plain)).events[0]
    assert got.time == stamp
    assert (got.comm, got.pid, got.order, got.gfp_flags, got.killed) == \
        (base.comm, base.pid, base.order, base.gfp_flags, base.killed)
    assert got.mem_info is not None and base.mem_info is not None
    assert got.mem_info.zones == base.mem_info.zones
