"""`memstall report`: size for 24 h at 10 s with short stalls kept, escaping of everything
from a host or a log, and the page opened in real headless Chromium (no console message,
every chart drawn, hostile names shown as text and never run). Screenshots are saved under
build/test-artifacts/ for a person to look at."""

from __future__ import annotations

import base64
import html
import re
import shutil
import struct
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from cdp import Browser
from conftest import FIXTURES, TESTS, run_cli
from memstall.collect import load_state
from memstall.model.state import SystemState
from memstall.model.vmstat import VmStat
from memstall.outputs.report.svg import LEFT, PLOT_W, W
from memstall.sources import DirSource
from memstall.store import Db, Event, Marker, Writer

CAPTURES = [
    FIXTURES / "snapshots" / f"x86_64-6.1-qemu-2node-{c}"
    for c in ("fresh", "fragmented", "compacted", "anon-fragmented", "anon-compacted")
]
ARTIFACTS = TESTS.parent / "build" / "test-artifacts"
HOSTILE = (
    "</script><script>document.body.setAttribute('data-pwned','1')</script>"
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','2')\">"
)
T0 = 1_800_000_000_000
DAY_SAMPLES = 8640  # 24 h at 10 s
SPIKE = 5000  # one sample with an allocstall burst


def _state(k: int, states: list[SystemState]) -> SystemState:
    """The captures in turn for zones and orders; counters that only grow, one burst at SPIKE."""
    s = states[k % len(states)]
    base = dict(states[0].vmstat.counters)  # type: ignore[union-attr]
    base["pgscan_kswapd"] += 500 * k
    base["compact_stall"] += k // 7
    base["allocstall_normal"] += 3000 if k >= SPIKE else 0
    return replace(s, vmstat=VmStat(base), uptime_seconds=1000.0 + 10 * k)


@pytest.fixture(scope="module")
def day_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("day") / "<img src=x onerror=alert(1)>.db"
    states = [load_state(DirSource(str(c))) for c in CAPTURES]
    db = Db(str(path), write=True)
    w = Writer(db, kind="record", source=HOSTILE, state=states[0], interval_seconds=10, host=HOSTILE)
    for k in range(DAY_SAMPLES):
        w.sample(T0 + k * 10_000, _state(k, states))
    w.events(
        [
            Event(
                T0 + SPIKE * 10_000,
                "stall",
                4,
                "0x24200ca(GFP_HIGHUSER_MOVABLE)",
                HOSTILE,
                12000,
                HOSTILE,
                f"{HOSTILE}:12",
            )
        ]
    )
    w.markers(
        [
            Marker(
                T0 + 3000 * 10_000,
                "20261204T000000.000000Z-abcd",
                "apply",
                f"applied {HOSTILE}",
                (("vm.watermark_scale_factor", "10", "200"),),
            ),
            Marker(
                T0 + 6000 * 10_000,
                "20261204T000000.000000Z-abcd",
                "rollback",
                "rolled back (tune rollback)",
                (("vm.watermark_scale_factor", "10", "200"),),
            ),
        ]
    )
    db.close()
    return path


@pytest.fixture(scope="module")
def day_page(day_db: Path) -> Path:
    out = day_db.parent / "day.html"
    r = run_cli("report", "--db", str(day_db), "-o", str(out))
    assert r.code == 0, r.err
    return out


def test_a_day_at_10s_is_under_2mb_and_keeps_a_one_sample_burst(day_page: Path) -> None:
    text = day_page.read_text()
    assert len(text.encode()) < 2_000_000
    # the burst (3000 stalls in one 10 s interval = 300/s) survives downsampling as a column max
    assert re.search(r'\["allocstall",\[[^]]*\],\[[^]]*\],\[[^]]*\b300\b', text)


def test_everything_from_a_host_or_a_log_is_escaped(day_page: Path) -> None:
    text = day_page.read_text()
    assert HOSTILE not in text and "<img src=x" not in text and "<script>document" not in text
    assert text.count("<script") == 2  # the JSON data and the page's own script, nothing else
    assert html.escape(HOSTILE) in text  # shown, as text


def _chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("needs Debian's chromium (installed by .ci/run)")
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / 'chromium-profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1100,1400",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _console(stderr: str) -> list[str]:
    """Console messages (errors, CSP violations, uncaught exceptions) Chromium logged."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _charts(dom: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="chart[^"]*" data-chart="([^"]+)">(.*?)</svg>', dom, re.S))


def _check_in_chromium(page: Path, tmp: Path, name: str) -> str:
    r = _chromium(page, tmp, "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    assert _console(r.stderr) == []
    dom = r.stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body and 'data-ready="1"' in body.group(0)  # the page's own script ran to its end
    assert "data-pwned" not in body.group(0)  # nothing from the data ran (it only shows as text)
    assert not re.search(r"<img\b", dom) and dom.count("<script") == 2  # and no element came from it
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    r = _chromium(page, tmp, f"--screenshot={shot}", "--window-size=1100,4000")
    assert r.returncode == 0 and shot.stat().st_size > 20_000
    assert _console(r.stderr) == []
    return dom


def test_the_day_report_in_chromium(day_page: Path, tmp_path: Path) -> None:
    dom = _check_in_chromium(day_page, tmp_path, "report-day")
    charts = _charts(dom)
    zones = re.findall(r"<h2>Node (\d+), zone (\w+)</h2>", dom)
    assert zones == [("0", "DMA"), ("0", "DMA32"), ("1", "DMA32")]  # the guest's populated zones
    assert len(charts) == 3 * len(zones) + 4  # per zone: free, blocks, fragmentation; 4 rate/PSI charts
    for cid, svg in charts.items():
        lines = re.findall(r'class="line"[^>]*d="([^"]*)"|d="([^"]*)"[^>]*class="line"', svg)
        images = [base64.b64decode(b) for b in re.findall(r'href="data:image/png;base64,([^"]+)"', svg)]
        drawn = [d for pair in lines for d in pair if d.count("L") >= 10]
        # a heat map: a PNG of one pixel per column (480 for a day) and one row per order (11)
        sizes = [struct.unpack(">II", png[16:24]) for png in images if png.startswith(b"\x89PNG")]
        assert drawn or sizes == [(480, 11)], f"chart {cid} is blank"
    assert html.escape(HOSTILE, quote=False) in dom  # the hostile name is on the page, as text
    pdf = ARTIFACTS / "report-day.pdf"  # printable: the print stylesheet gives a multi-page PDF
    r = _chromium(day_page, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert r.returncode == 0 and _console(r.stderr) == []
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 3  # pages


def test_the_one_moment_pages_in_chromium(tmp_path: Path) -> None:
    seed = FIXTURES / "kernlog" / "corpus" / "000-seed-cold-storage-4.9.log"
    for name, args in (
        ("report-seed-log", ("--log", str(seed))),
        ("report-capture", ("--root", str(CAPTURES[1]))),
    ):
        out = tmp_path / f"{name}.html"
        r = run_cli("report", *args, "-o", str(out))
        assert r.code == 0, r.err
        dom = _check_in_chromium(out, tmp_path, name)
        assert dom.count("<svg") >= 4 and "Findings" in dom


def test_report_usage_errors(tmp_path: Path, day_db: Path) -> None:
    out = str(tmp_path / "x.html")
    r = run_cli("report", "--db", str(day_db), "--log", "x", "-o", out)
    assert r.code == 2 and r.err == "memstall: error: --db and --log: give one source\n"
    r = run_cli("report", "--from=-1h", "--log", "x", "-o", out)
    assert r.code == 2 and "--from and --to select a period of a --db" in r.err
    r = run_cli("report", "--db", str(day_db), "--from", "yesterday", "-o", out)
    assert r.code == 2 and "--from 'yesterday': expected an ISO date/time" in r.err
    r = run_cli("report", "--db", str(day_db), "--from=-2h", "-o", out)  # the last two hours
    assert r.code == 0 and "721 samples" in Path(out).read_text()  # both ends included


def test_hover_shows_the_exact_values_of_a_column(day_page: Path, tmp_path: Path) -> None:
    """Chromium driven over the DevTools protocol: the mouse over the burst's column of the
    reclaim chart shows its time and the allocstall max; nothing is logged or thrown."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("needs Debian's chromium (installed by .ci/run)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1100,900",
    ]
    b = Browser(exe, tmp_path / "cdp-profile", day_page.as_uri(), flags)
    try:
        s = b.page_session()
        b.call("Runtime.enable", s)
        b.call("Log.enable", s)
        give_up = time.monotonic() + 60
        while b.evaluate(s, "document.body && document.body.getAttribute('data-ready')") != "1":
            assert time.monotonic() < give_up, "the page's script never finished"
            time.sleep(0.1)
        rect = b.evaluate(
            s,
            "(function(){var e=document.querySelector('[data-chart=rate0] svg');"
            "e.scrollIntoView({block:'center'});var r=e.getBoundingClientRect();"
            "return [r.left, r.top, r.width, r.height];})()",
        )
        left, top, width, height = rect
        col = (SPIKE * 10_000) * 480 // ((DAY_SAMPLES - 1) * 10_000)  # the burst's column
        x = left + (LEFT + (col + 0.5) * PLOT_W / 480) / W * width
        b.call("Input.dispatchMouseEvent", s, type="mouseMoved", x=x, y=top + height / 2)
        tip = b.evaluate(s, "document.getElementById('tip').textContent")
        shown = b.evaluate(s, "getComputedStyle(document.getElementById('tip')).display")
    finally:
        b.close()
    assert shown == "block"
    assert tip.startswith("2027-01-15 ") and " UTC .. " in tip
    assert "allocstall: " in tip and "max 300)" in tip.split("allocstall: ")[1].splitlines()[0]
    noise = [
        e
        for e in b.events
        if e.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded")
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "warning"))
    ]
    assert noise == []
