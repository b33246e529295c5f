"""`memstall exporter`: the collector against every capture (golden exposition, plus values
read back from the fixtures' own files without memstall), the shared sample, the HTTP server.

Goldens: tests/golden/exporter/<fixture>.prom; `pytest --update-golden` rewrites them for review.
"""

from __future__ import annotations

import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from builders import StepClock
from conftest import FIXTURES, TESTS, run_cli
from memstall import __version__
from memstall.cli.exporter import build, is_loopback, listen_address, make_server
from memstall.outputs.exporter import MemstallCollector, SharedSample, registry_for
from memstall.outputs.exposition import text_exposition
from memstall.pipeline import Sampler
from memstall.sources import open_root

GOLDEN = TESTS / "golden" / "exporter"
SNAPSHOTS = sorted(p for p in (FIXTURES / "snapshots").iterdir() if p.is_dir())
SOS_TREES = sorted(next(p.glob("sosreport-*")) for p in (FIXTURES / "sosreports").iterdir() if p.is_dir())
ROOTS = SNAPSHOTS + SOS_TREES
SEED = FIXTURES / "snapshots" / "x86_64-4.9-handmade-seed-2node-256g"
IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"



def exposition(root: Path, per_order: bool = True) -> str:
    sampler = Sampler(open_root(str(root)))
    collector = MemstallCollector(SharedSample(sampler.sample, StepClock()), per_order=per_order)
    return generate_latest(registry_for(collector)).decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.parent.name if p.name.startswith("sos") else p.name)
def test_golden_exposition_of_every_capture(root: Path, update_golden: bool) -> None:
    text = exposition(root)
    name = (root.parent.name if root.name.startswith("sosreport-") else root.name) + ".prom"
    path = GOLDEN / name
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden {name}: run pytest --update-golden"
    assert text == path.read_text(), f"{name} differs: review, then pytest --update-golden"


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.parent.name if p.name.startswith("sos") else p.name)
def test_fast_exposition_is_prometheus_clients_byte_for_byte(root: Path) -> None:
    sampler = Sampler(open_root(str(root)))
    registry = registry_for(MemstallCollector(SharedSample(sampler.sample, StepClock())))
    for _ in range(2):  # the second time from the label-text cache
        assert text_exposition(registry) == generate_latest(registry)


def test_fast_exposition_hands_what_needs_escaping_to_prometheus_client() -> None:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        InfoMetricFamily,
    )
    from prometheus_client.registry import CollectorRegistry

    class Odd:
        def collect(self) -> list[Any]:
            quoted = GaugeMetricFamily("odd_gauge", 'help with \\ and\nnewline', labels=["a", "b"])
            quoted.add_metric(['say "hi"', "back\\slash"], 1.5)
            quoted.add_metric(["new\nline", "plain"], float("nan"))
            quoted.add_metric(["x", "y"], float("inf"), timestamp=12.5)
            created = CounterMetricFamily("odd_counter", "with created", labels=["k"], created=100.0)
            created.add_metric(["v"], 3.0, created=100.0)
            plain = CounterMetricFamily("plain", "no labels")
            plain.add_metric([], 1e-7)
            hist = HistogramMetricFamily("odd_hist", "a histogram", buckets=[("1", 2.0), ("+Inf", 3.0)],
                                         sum_value=4.0)
            info = InfoMetricFamily("odd", "an info", value={"version": "1"})
            utf = GaugeMetricFamily("odd.dotted", "a name outside the legacy set")
            utf.add_metric([], 2.0)
            return [quoted, created, plain, hist, info, utf]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Odd())
    assert text_exposition(registry) == generate_latest(registry)


def _families_have_help_with_unit(text: str) -> None:
    for family in text_string_to_metric_families(text):
        assert family.documentation, family.name
        assert family.name.startswith("memstall_")
        assert family.type in {"gauge", "counter"}
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples), family.name


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.parent.name if p.name.startswith("sos") else p.name)
def test_free_blocks_are_the_captures_buddyinfo(root: Path) -> None:
    text = exposition(root)
    _families_have_help_with_unit(text)
    got = {labels: v for (name, labels), v in samples(text).items() if name == "memstall_free_blocks"}
    want = {}
    for line in (root / "proc/buddyinfo").read_text().splitlines():
        m = re.match(r"Node (\d+), zone\s+(\S+)\s+(.*)", line)
        assert m, line
        for order, count in enumerate(m.group(3).split()):
            want[(("node", m.group(1)), ("order", str(order)), ("zone", m.group(2)))] = float(count)
    assert got == want


def _zoneinfo_pages(root: Path) -> dict[tuple[str, str], dict[str, int]]:
    """node, zone -> {free, min, low, high} pages, read straight from proc/zoneinfo."""
    zones: dict[tuple[str, str], dict[str, int]] = {}
    current: dict[str, int] = {}
    for line in (root / "proc/zoneinfo").read_text().splitlines():
        head = re.match(r"Node (\d+), zone\s+(\S+)", line)
        if head:
            current = zones.setdefault((head.group(1), head.group(2)), {})
            continue
        m = re.match(r"\s+(pages free|min|low|high|present)\s+(\d+)$", line)
        if m and m.group(1).split()[-1] not in current:
            current[m.group(1).split()[-1]] = int(m.group(2))
    return {k: v for k, v in zones.items() if v.get("present")}


def test_seed_watermarks_and_headroom_match_the_zoneinfo() -> None:
    got = samples(exposition(SEED))
    zones = _zoneinfo_pages(SEED)
    assert len(zones) == 4
    for (node, zone), pages in zones.items():
        labels = (("node", node), ("zone", zone))
        assert got[("memstall_zone_free_bytes", labels)] == pages["free"] * 4096
        for w in ("min", "low", "high"):
            assert got[(f"memstall_watermark_{w}_bytes", labels)] == pages[w] * 4096
        assert got[("memstall_watermark_headroom_pages", labels)] == pages["free"] - pages["high"]
    # the seed: node 0 Normal is below min, so the finding is active and critical
    key = ("memstall_finding_active", (("rule", "ZONE_BELOW_WATERMARK"), ("severity", "critical"),
                                       ("subject", "node0/Normal")))
    assert got[key] == 1.0
    assert got[("memstall_build_info", (("version", __version__),))] == 1.0
    assert got[("memstall_source_up", (("file", "proc/buddyinfo"),))] == 1.0
    assert got[("memstall_source_up", (("file", "proc/pressure/memory"),))] == 0.0  # 4.9: no PSI


def test_idle_counters_psi_and_sysctls_match_the_files() -> None:
    got = samples(exposition(IDLE))
    vmstat = dict(line.split() for line in (IDLE / "proc/vmstat").read_text().splitlines())
    assert got[("memstall_vmstat_compact_stall_total", ())] == float(vmstat["compact_stall"])
    assert got[("memstall_vmstat_allocstall_total", ())] == float(
        sum(int(v) for k, v in vmstat.items() if k.startswith("allocstall")))
    psi = (IDLE / "proc/pressure/memory").read_text().splitlines()
    full_us = int(psi[1].rsplit("total=", 1)[1])
    assert got[("memstall_psi_memory_full_seconds_total", ())] == full_us / 1e6
    kib = int((IDLE / "proc/sys/vm/min_free_kbytes").read_text())
    assert got[("memstall_vm_min_free_bytes", ())] == kib * 1024


def test_no_per_order_trims_the_order_families() -> None:
    full, trimmed = exposition(SEED), exposition(SEED, per_order=False)
    assert 'order="' in full and 'order="' not in trimmed
    assert "memstall_watermark_low_bytes" in trimmed


def test_unreadable_files_show_as_source_down_and_the_scrape_still_succeeds(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root, ignore=shutil.ignore_patterns("expected"))
    (root / "proc/buddyinfo").write_text("Node 0, zone Normal x y\n")
    got = samples(exposition(root))
    assert got[("memstall_source_up", (("file", "proc/buddyinfo"),))] == 0.0
    assert got[("memstall_up", ())] == 1.0
    assert not any(name == "memstall_free_blocks" for name, _ in got)
    assert ("memstall_zone_free_bytes", (("node", "0"), ("zone", "Normal"))) in got


def test_a_sample_that_fails_as_a_whole_is_up_0(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root)
    sampler = Sampler(open_root(str(root)))
    shutil.rmtree(root)  # the root vanished after the exporter started
    collector = MemstallCollector(SharedSample(sampler.sample, StepClock()))
    got = samples(generate_latest(registry_for(collector)).decode())
    assert got[("memstall_build_info", (("version", __version__),))] == 1.0
    up = got[("memstall_up", ())]
    # either the reader fails as a whole (up 0) or every file shows as down: never a traceback
    assert up == 0.0 or got[("memstall_source_up", (("file", "proc/buddyinfo"),))] == 0.0


def test_scrapes_within_a_second_share_one_sample() -> None:
    clock = StepClock()
    sampler = Sampler(open_root(str(IDLE)), clock=clock)
    shared = SharedSample(sampler.sample, clock)
    registry = registry_for(MemstallCollector(shared))
    threads = [threading.Thread(target=generate_latest, args=(registry,)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert shared.samples_taken == 1
    clock.now += 0.9
    generate_latest(registry)
    assert shared.samples_taken == 1
    clock.now += 0.2
    generate_latest(registry)
    assert shared.samples_taken == 2


@pytest.fixture
def server() -> Iterator[str]:
    scrape, content_type = build(str(SEED), per_order=True)
    httpd = make_server(("127.0.0.1", 0), scrape, content_type)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_http_serves_metrics_an_index_and_404(server: str) -> None:
    with urllib.request.urlopen(f"{server}/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        body = resp.read().decode()
    assert body == exposition(SEED)
    with urllib.request.urlopen(f"{server}/", timeout=10) as resp:
        assert b'href="/metrics"' in resp.read()
    for path in ("/nope", "/metrics/x", "/favicon.ico"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{server}{path}", timeout=10)
        assert err.value.code == 404
        err.value.close()


def test_cli_once_prints_the_exposition_and_bad_listen_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli("--root", str(SEED), "exporter", "--once")
    assert r.code == 0 and r.out == exposition(SEED), r.err
    r = run_cli("--root", str(SEED), "exporter", "--listen", "nohost")
    assert r.code == 2 and "expected HOST:PORT" in capsys.readouterr().err  # argparse's own stderr
    r = run_cli("--root", str(SEED) + "-typo", "exporter", "--once")
    assert r.code == 3 and r.err.startswith("memstall: error:") and "Traceback" not in r.err


@pytest.mark.parametrize(("text", "want"), [("127.0.0.1:9648", ("127.0.0.1", 9648)),
                                            ("[::1]:0", ("::1", 0)), ("0.0.0.0:80", ("0.0.0.0", 80))])
def test_listen_address(text: str, want: tuple[str, int]) -> None:
    assert listen_address(text) == want


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("example.com")


KMSG_RECORDS = FIXTURES / "kernlog" / "formats" / "kmsg-records.txt"


def _kmsg_records() -> bytes:
    return b"".join(line + b"\n" for line in KMSG_RECORDS.read_bytes().splitlines()
                    if not line.startswith(b"#"))


def test_alloc_events_from_kmsg_records_count_by_kind_and_order(tmp_path: Path) -> None:
    from memstall.outputs.exporter import AllocEventCounts
    from memstall.pipeline.kmsg_events import open_kmsg

    log = tmp_path / "kmsg"
    log.write_bytes(_kmsg_records())  # printed before the exporter started: not counted
    feed, why = open_kmsg(str(log))
    assert feed is not None, why
    events = AllocEventCounts(feed.poll)
    sampler = Sampler(open_root(str(SEED)))
    registry = registry_for(MemstallCollector(SharedSample(sampler.sample, StepClock(), 0.0),
                                              events=events, kmsg_up=True))
    first = samples(text_exposition(registry).decode())
    assert not any(name == "memstall_alloc_events_total" for name, _ in first)
    assert first[("memstall_source_up", (("file", "dev/kmsg"),))] == 1.0
    with log.open("ab") as f:  # the seed's stall report, printed twice, the second as an OOM at order -1
        f.write(_kmsg_records())
        f.write(_kmsg_records().replace(b"page allocation stalls for 15412ms, order:1",
                                        b"invoked oom-killer: gfp_mask=0x26040c0(GFP_KERNEL), order=-1"))
    scrapes = [samples(text_exposition(registry).decode()) for _ in range(2)]  # complete after a quiet poll
    got = {labels: v for (name, labels), v in scrapes[-1].items() if name == "memstall_alloc_events_total"}
    assert got[(("kind", "stall"), ("order", "1"))] == 1.0
    assert sum(got.values()) == 2.0 and any(dict(k)["order"] == "-1" for k in got), got
    text = text_exposition(registry).decode()
    assert "# TYPE memstall_alloc_events_total counter" in text


def test_alloc_events_poll_failure_keeps_the_counts_and_the_scrape() -> None:
    from memstall.outputs.exporter import AllocEventCounts

    def broken() -> list[Any]:
        raise OSError("gone")

    events = AllocEventCounts(broken)
    sampler = Sampler(open_root(str(SEED)))
    registry = registry_for(MemstallCollector(SharedSample(sampler.sample, StepClock(), 0.0), events=events,
                                              kmsg_up=True))
    got = samples(text_exposition(registry).decode())
    assert got[("memstall_up", ())] == 1.0 and not any(n == "memstall_alloc_events_total" for n, _ in got)


def test_a_capture_root_has_no_event_family_and_no_kmsg_source() -> None:
    text, _ = build(str(SEED), per_order=True)
    body = text().decode()
    assert "memstall_alloc_events" not in body and 'file="dev/kmsg"' not in body
