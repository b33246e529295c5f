"""Live: change vm.watermark_scale_factor on this kernel, check /proc/zoneinfo against the
plan's whatif prediction, roll back, check the originals. The host is always restored in
`finally`, whatever happens. The value (100) is safe: it keeps 1 % of each zone between
watermarks, about 0.4 GiB more free memory on a 24 GiB machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from memstall.parsers.zoneinfo import parse_zoneinfo

WSF = Path("/proc/sys/vm/watermark_scale_factor")
# Several test runs share this host: one run must not take another's changed value for the
# original (it would then "restore" it). Every test here holds this host-wide lock.
HOST_LOCK = Path("/run/lock/memstall-live-sysctl-tests.lock")
pytestmark = [pytest.mark.live_write, pytest.mark.usefixtures("host_lock")]


@pytest.fixture
def host_lock() -> Iterator[None]:
    HOST_LOCK.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(HOST_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        end = time.monotonic() + 300
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < end, "another run held the live-test lock for 5 minutes"
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)


def _zoneinfo_marks() -> dict[str, tuple[int, int, int]]:
    zones = parse_zoneinfo(Path("/proc/zoneinfo").read_text()).zones
    return {z.subject: z.watermarks_without_boost()[:3] for z in zones if (z.managed_pages or 0) > 0}


def _predicted(doc: dict[str, object], which: str) -> dict[str, tuple[int, int, int]]:
    out = {}
    for w in doc["watermarks"]:  # type: ignore[attr-defined]
        m = w[which]
        out[f"node{w['node']}/{w['zone']}"] = (m["min_pages"], m["low_pages"], m["high_pages"])
    return out


def _target(original: bytes) -> str:
    return "120" if original.split() == [b"100"] else "100"


def test_apply_matches_whatif_and_rolls_back(tmp_path: Path) -> None:
    original = WSF.read_bytes()
    target = _target(original)
    state = str(tmp_path / "state")
    try:
        plan = run_cli("tune", "plan", "--set", f"vm.watermark_scale_factor={target}", "--format", "json")
        assert plan.code == 0, plan.err
        doc = json.loads(plan.out)
        before, after = _predicted(doc, "before"), _predicted(doc, "after")
        assert before != after, "the test value must move the watermarks on this machine"
        assert _zoneinfo_marks() == before
        r = run_cli("tune", "apply", "--yes", "--state-dir", state,
                    "--set", f"vm.watermark_scale_factor={target}")
        assert r.code == 0, r.err
        assert WSF.read_text().strip() == target
        assert _zoneinfo_marks() == after  # the kernel recomputed exactly what whatif predicted
        r = run_cli("tune", "rollback", "--state-dir", state)
        assert r.code == 0, r.err
        assert WSF.read_bytes() == original
        assert _zoneinfo_marks() == before
    finally:
        if WSF.read_bytes() != original:
            WSF.write_bytes(original)


def test_revert_after_restores_the_live_value(tmp_path: Path) -> None:
    original = WSF.read_bytes()
    target = _target(original)
    state = str(tmp_path / "state")
    try:
        marks = _zoneinfo_marks()
        r = run_cli("tune", "apply", "--yes", "--state-dir", state, "--revert-after", "2",
                    "--set", f"vm.watermark_scale_factor={target}")
        assert r.code == 0, r.err
        assert "automatic rollback at" in r.out
        assert WSF.read_text().strip() == target
        end = time.monotonic() + 30
        while WSF.read_bytes() != original and time.monotonic() < end:
            time.sleep(0.2)
        assert WSF.read_bytes() == original
        assert _zoneinfo_marks() == marks
        hist = json.loads(run_cli("tune", "history", "--state-dir", state, "--format", "json").out)
        assert hist["transactions"][0]["status"] == "rolled-back"
    finally:
        if WSF.read_bytes() != original:
            WSF.write_bytes(original)


def test_failed_live_write_restores_earlier_values(tmp_path: Path) -> None:
    """The second write fails (injected EINVAL): the first, real, write must be undone."""
    import errno

    from memstall.tune.faults import Faults, injected

    original = WSF.read_bytes()
    extfrag = Path("/proc/sys/vm/extfrag_threshold")
    extfrag_original = extfrag.read_bytes()
    try:
        with injected(Faults(fail_write={2: errno.EINVAL})):
            r = run_cli("tune", "apply", "--yes", "--state-dir", str(tmp_path / "s"),
                        "--set", f"vm.watermark_scale_factor={_target(original)}",
                        "--set", "vm.extfrag_threshold=600")
        assert r.code == 4 and "undone: restored vm.watermark_scale_factor = " in r.err
        assert WSF.read_bytes() == original and extfrag.read_bytes() == extfrag_original
    finally:
        if WSF.read_bytes() != original:
            WSF.write_bytes(original)
        if extfrag.read_bytes() != extfrag_original:
            extfrag.write_bytes(extfrag_original)


def test_the_kernel_itself_refusing_a_write_restores_earlier_values(tmp_path: Path) -> None:
    """No injection: the real kernel answers EINVAL to vm.page-cluster=99 (its maximum is 31;
    memstall has no range for it, so --force lets it through to the kernel)."""
    cluster = Path("/proc/sys/vm/page-cluster")
    original, cluster_original = WSF.read_bytes(), cluster.read_bytes()
    marks = _zoneinfo_marks()
    try:
        r = run_cli("tune", "apply", "--yes", "--force", "--state-dir", str(tmp_path / "s"),
                    "--set", f"vm.watermark_scale_factor={_target(original)}", "--set", "vm.page-cluster=99")
        assert r.code == 4, r.err
        assert r.err.startswith("memstall: error: writing vm.page-cluster = 99 failed: Invalid argument "
                                "[EINVAL]; transaction ")
        assert f"restored vm.watermark_scale_factor = {original.decode().strip()}" in r.err
        assert WSF.read_bytes() == original and cluster.read_bytes() == cluster_original
        assert _zoneinfo_marks() == marks
    finally:
        if WSF.read_bytes() != original:
            WSF.write_bytes(original)
        if cluster.read_bytes() != cluster_original:
            cluster.write_bytes(cluster_original)


def test_dirty_bytes_rollback_restores_dirty_ratio_on_the_real_kernel(tmp_path: Path) -> None:
    """Writing dirty_bytes makes the kernel zero dirty_ratio; writing 0 back to dirty_bytes
    is EINVAL. The rollback must write dirty_ratio instead. 2 GiB is a harmless limit."""
    vm = Path("/proc/sys/vm")
    originals = {n: (vm / n).read_bytes() for n in ("dirty_bytes", "dirty_ratio")}
    if originals["dirty_ratio"].split() == [b"0"]:
        pytest.skip("this host uses dirty_bytes already")
    state = str(tmp_path / "state")
    try:
        r = run_cli("tune", "apply", "--yes", "--state-dir", state, "--set", "vm.dirty_bytes=2147483648")
        assert r.code == 0, r.err
        assert (vm / "dirty_ratio").read_bytes() == b"0\n"  # the kernel's side effect
        r = run_cli("tune", "rollback", "--state-dir", state)
        assert r.code == 0, r.err
        assert {n: (vm / n).read_bytes() for n in originals} == originals
    finally:
        for n, data in originals.items():
            if (vm / n).read_bytes() != data and data.split() != [b"0"]:
                (vm / n).write_bytes(data)
