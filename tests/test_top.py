"""`memstall top`: the frame renderer (outputs/top.py) on every snapshot fixture, and `top --once`.

Frames are rendered from real Sampler ticks over the fixture roots; the rates test rewrites a
copy of a capture between two ticks (as tests/test_sampler.py does) with a StepClock.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from builders import StepClock
from conftest import FIXTURES, TESTS, run_cli
from memstall.outputs.top import (
    FrameOptions,
    histogram,
    node_ids,
    order_summary,
    render_frame,
    watermark_bar,
    zone_views,
)
from memstall.pipeline import Sampler, Tick
from memstall.pipeline.kmsg_events import KmsgEvents, open_kmsg
from memstall.rules import Finding, Severity
from memstall.sources import DirSource, open_root

SNAPSHOTS = sorted(p for p in (FIXTURES / "snapshots").iterdir() if p.is_dir())
TWO_NODES = [p for p in SNAPSHOTS if "2node" in p.name]
IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
SEED = FIXTURES / "snapshots" / "x86_64-4.9-handmade-seed-2node-256g"
GOLDEN = TESTS / "golden" / "top"



def _tick(root: Path) -> Tick:
    return Sampler(open_root(str(root)), clock=StepClock()).sample()


@pytest.mark.parametrize("root", SNAPSHOTS, ids=lambda p: p.name)
@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 50), (40, 12)])
def test_frame_fits_the_terminal_and_shows_every_zone_it_can(root: Path, width: int, height: int) -> None:
    tick = _tick(root)
    lines = render_frame(tick, width, height)
    assert len(lines) <= height
    assert all(len(line) <= width for line in lines)
    assert lines[0].startswith("memstall top")
    views = zone_views(tick.state)
    assert views, "every fixture has zones"
    first = views[0]
    assert any(line.startswith(f"n{first.node} {first.zone}") for line in lines)
    if height >= 24:
        assert any(line.startswith("rates/s") for line in lines)
        assert any(line.startswith("findings:") for line in lines)


@pytest.mark.parametrize("root", TWO_NODES, ids=lambda p: p.name)
def test_two_nodes_one_at_a_time(root: Path) -> None:
    tick = _tick(root)
    nodes = node_ids(tick.state)
    assert len(nodes) == 2
    for node in nodes:
        lines = render_frame(tick, 80, 24, FrameOptions(node=node))
        zone_rows = [line for line in lines if line[:1] == "n" and line[1:2].isdigit()]
        assert zone_rows and all(row.startswith(f"n{node} ") for row in zone_rows)
        assert f"node {node}" in lines[0]


def test_zone_filter_and_an_unknown_zone() -> None:
    tick = _tick(SEED)
    lines = render_frame(tick, 80, None, FrameOptions(zone="Normal"))
    rows = [line for line in lines if line.startswith("n")]
    assert [r[:9] for r in rows] == ["n0 Normal", "n1 Normal"]
    assert "no zones to show (zone filter)" in render_frame(tick, 80, None, FrameOptions(zone="Nope"))


def test_seed_frame_numbers() -> None:
    """The seed capture: node0/Normal below min (`!` fill), orders 6+ exhausted, index 0.984."""
    lines = render_frame(_tick(SEED), 80, 24)
    normal = lines.index(next(line for line in lines if line.startswith("n0 Normal")))
    assert "free   42.9M [!!m " in lines[normal]
    assert lines[normal].endswith("low→high 170M–297M")
    assert lines[normal + 1].endswith("orders [█▄▃▃▂▁xxxxx] max o5 exhausted o6-10 frag@o6 0.984")
    assert "CRITICAL ZONE_BELOW_WATERMARK node0/Normal: free 42.9 MiB" in "\n".join(lines)
    assert lines[-7] == "findings: 6"


@pytest.mark.parametrize("root", [IDLE, SEED], ids=lambda p: p.name)
@pytest.mark.parametrize(("width", "height"), [(80, 24), (160, 48)])
def test_golden_frames(root: Path, width: int, height: int, update_golden: bool) -> None:
    tick = _tick(root)
    tick = replace(tick, state=replace(tick.state, source=root.name))  # not this checkout's path
    text = "\n".join(render_frame(tick, width, height, FrameOptions(interval_seconds=1))) + "\n"
    path = GOLDEN / f"{root.name}-{width}x{height}.txt"
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden {path.name}: run pytest --update-golden"
    assert text == path.read_text(), f"{path.name} differs: review, then pytest --update-golden"


def test_watermark_bar_marks_and_fill() -> None:
    view = zone_views(_tick(SEED).state)[2]  # node0/Normal: free 10980 < min 11109 pages
    bar = watermark_bar(view, 32)
    assert len(bar) == 32 and bar[0] == "[" and bar[-1] == "]"
    assert bar.index("m") < bar.index("l") < bar.index("h")
    assert set(bar[1:bar.index("m")]) == {"!"}
    above = replace(view, free_pages=view.high_pages * 3 if view.high_pages else 0)
    assert "!" not in watermark_bar(above, 32)
    assert watermark_bar(replace(view, min_pages=None), 32) == ""


def test_histogram_and_order_summary() -> None:
    assert histogram([0, 1, 3, 70000], ascii_only=False) == "x▁▂█"
    assert histogram([0, 1, 3, 70000], ascii_only=True) == "x.:@"
    assert order_summary([0] * 11) == "no free blocks"
    # 13 free pages in 7 blocks, order 3: 1000 - (1000 + 13 * 1000 // 8) // 7 = 625
    assert order_summary([5, 0, 2] + [0] * 8) == "max o2 exhausted o1,3-10 frag@o3 0.625"
    assert order_summary([1] * 11) == "max o10"


def test_hostile_names_are_text() -> None:
    hostile = "\x1b]52;c;aGk=\x07\u202e"
    tick = _tick(SEED)
    finding = Finding("RULE", Severity.WARNING, f"node0/{hostile}", tick.report.findings[0].evidence,
                      f"comm {hostile} stalled", "", "")
    state = replace(tick.state, source=f"root{hostile}")
    hostile_tick = replace(tick, state=state, report=replace(tick.report, findings=(finding,)))
    text = "\n".join(render_frame(hostile_tick, 200, None))
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "\\u001b]52;c;aGk=\\u0007\\u202e" in text


def _rewrite(root: Path, **changes: int) -> None:
    lines = []
    for line in (IDLE / "proc/vmstat").read_text().splitlines():
        name, value = line.split()
        lines.append(f"{name} {changes.pop(name, int(value))}")
    (root / "proc/vmstat").write_text("\n".join(lines) + "\n")


def test_rates_psi_and_kthread_cpu(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root, ignore=shutil.ignore_patterns("samples", "expected"))
    clock = StepClock()
    sampler = Sampler(DirSource(str(root)), clock=clock)
    first = render_frame(sampler.sample(), 80, 24)
    assert "rates/s  none: one sample so far" in "\n".join(first)
    _rewrite(root, allocstall_normal=20, pgscan_direct=400, pgscan_kswapd=1000, pgsteal_kswapd=600,
             compact_stall=4, compact_fail=2, kswapd_low_wmark_hit_quickly=6, pgalloc_normal=7314985 + 3000)
    (root / "proc/uptime").write_text("812.15 1350.92\n")
    (root / "proc/pressure/memory").write_text(
        "some avg10=1.50 avg60=0.00 avg300=0.00 total=500000\n"
        "full avg10=0.75 avg60=0.00 avg300=0.00 total=100000\n")
    stat = (root / "proc/36/stat").read_text().split()
    stat[13] = str(int(stat[13]) + 10)  # utime: 10 ticks in 2 s at USER_HZ 100 = 5% of a CPU
    (root / "proc/36/stat").write_text(" ".join(stat) + "\n")
    clock.now += 2
    text = "\n".join(render_frame(sampler.sample(), 120, 24))
    assert ("rates/s  allocstall 10  pgscan direct 200 kswapd 500  pgsteal 300  pgalloc 1.5k"
            in text)
    assert "compact  stall 2 fail 1 success 0  kswapd_low_wmark_hit_quickly 3" in text
    assert "PSI      some 1.50% (now 25.0%)  full 0.75% (now 5.0%)" in text
    assert "kcompactd0 5.0%" in text


def test_once_on_a_capture_and_its_errors() -> None:
    r = run_cli("--root", str(SEED), "top", "--once", "--width", "80")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("memstall top") and any(line.startswith("n1 Normal") for line in lines)
    assert all(len(line) <= 80 for line in lines)
    assert "findings: 6" in lines
    piped = run_cli("--root", str(SEED), "top", "--width", "80")  # stdout is not a terminal here
    assert piped.code == 0 and piped.out == r.out
    bad = run_cli("--root", str(SEED), "top", "--once", "--width", "20")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "--width must be 40 to 200" in bad.err


KMSG_RECORDS = FIXTURES / "kernlog" / "formats" / "kmsg-records.txt"


def _records() -> bytes:
    return b"".join(line + b"\n" for line in KMSG_RECORDS.read_bytes().splitlines()
                    if not line.startswith(b"#"))


def test_kmsg_events_complete_across_reads_and_after_a_quiet_poll() -> None:
    data = _records()
    reads = [data[:700], data[700:], b""]  # a record cut between two reads, then a quiet interval
    feed = KmsgEvents(lambda: reads.pop(0))
    assert feed.poll() == [] and feed.poll() == []
    (event,) = feed.poll()
    assert (event.kind, event.comm, event.pid, event.order, event.stall_ms) == ("stall", "python", 1467, 1,
                                                                                15412)


def test_open_kmsg_shows_only_what_is_printed_from_now_on(tmp_path: Path) -> None:
    log = tmp_path / "kmsg"
    log.write_bytes(_records())  # history: not shown
    feed, why = open_kmsg(str(log))
    assert feed is not None and why == ""
    assert feed.poll() == []
    with log.open("ab") as f:
        f.write(_records().replace(b"python", b"java"))
    assert feed.poll() == []  # the report may go on: complete after a quiet poll
    assert [e.comm for e in feed.poll()] == ["java"]
    missing, why = open_kmsg(str(tmp_path / "none"))
    assert missing is None and "No such file or directory (kernel events need root)" in why


def test_events_in_the_frame_newest_first_and_escaped() -> None:
    tick = _tick(SEED)
    feed = KmsgEvents(iter([_records(), b""]).__next__)
    assert feed.poll() == []
    (event,) = feed.poll()
    hostile = replace(event, comm="py\x1b]52;c;aGk=\x07\u202ethon")
    lines = render_frame(tick, 80, 24, FrameOptions(), [event, hostile])
    assert len(lines) <= 24
    shown = [line for line in lines if line.startswith("event")]
    assert shown[0].startswith("event    4395803.602414  stall  py\\u001b]52;c;aGk=\\u0007\\u202ethon[1467]")
    assert shown[1] == "event    4395803.602414  stall  python[1467]  order 1  stalled 15412 ms  GFP_KE…"
    assert "\x1b" not in "\n".join(lines)
