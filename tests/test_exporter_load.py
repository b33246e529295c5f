"""`memstall exporter` under load: 100 concurrent scrapers for 10 s on loopback, against one
exporter process serving the seed capture. No request fails, every body is a complete
exposition, the scrapes share samples, and the exporter's RSS stays flat."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from conftest import FIXTURES

SEED = FIXTURES / "snapshots" / "x86_64-4.9-handmade-seed-2node-256g"
CLIENTS = 100
SECONDS = 10.0
RSS_GROWTH_LIMIT_KIB = 8 * 1024


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert m, status
    return int(m.group(1))


def _serve(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    log = tmp_path / "exporter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "memstall", "--root", str(SEED), "exporter",
                                 "--listen", "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = re.search(r"http://(127\.0\.0\.1:\d+)/metrics", log.read_text())
        if m:
            return proc, f"http://{m.group(1)}/metrics"
        assert proc.poll() is None, log.read_text()
        time.sleep(0.1)
    proc.kill()
    proc.wait(10)
    raise AssertionError(f"exporter did not start: {log.read_text()}")


def _hammer(url: str, stop_at: float, results: list[int], errors: list[str], lock: threading.Lock) -> None:
    done = 0
    while time.monotonic() < stop_at:
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = resp.read()
            if resp.status != 200 or not body.rstrip().endswith(b"1.0") or b"memstall_up 1.0" not in body:
                raise AssertionError(f"status {resp.status}, {len(body)} bytes")
            done += 1
        except Exception as err:  # every failure is collected and reported
            with lock:
                errors.append(repr(err))
    with lock:
        results.append(done)


def test_100_concurrent_scrapers_for_10_seconds(tmp_path: Path) -> None:
    proc, url = _serve(tmp_path)
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            expected_size = len(resp.read())
        results: list[int] = []
        errors: list[str] = []
        lock = threading.Lock()
        warm_stop = time.monotonic() + 2
        warm = [threading.Thread(target=_hammer, args=(url, warm_stop, [], errors, lock))
                for _ in range(CLIENTS)]
        for t in warm:
            t.start()
        for t in warm:
            t.join()
        before = rss_kib(proc.pid)
        stop_at = time.monotonic() + SECONDS
        threads = [threading.Thread(target=_hammer, args=(url, stop_at, results, errors, lock))
                   for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + 60)
        after = rss_kib(proc.pid)
        assert errors == [], errors[:5]
        assert len(results) == CLIENTS and sum(results) >= CLIENTS
        print(f"{sum(results)} scrapes in {SECONDS:.0f} s, RSS {before} -> {after} KiB")
        assert after - before < RSS_GROWTH_LIMIT_KIB, (before, after)
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert len(resp.read()) == expected_size
    finally:
        proc.terminate()
        proc.wait(10)
