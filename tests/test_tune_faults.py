"""Fault injection: the Nth write fails, or memstall is SIGKILLed between steps.

Either way the host must end up exactly as before: restored at once on a write error,
or by `tune rollback` from the fsync'ed backups after a kill.
"""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from memstall.tune.faults import Faults, injected
from test_tune_roots import STATE, fingerprint, make_root, vm

DRIVER = str(Path(__file__).parent / "tune_driver.py")
SETS = ("--set", "vm.watermark_scale_factor=150", "--set", "vm.swappiness=10",
        "--set", "vm.extfrag_threshold=700")


@pytest.mark.parametrize("errno_name", ["EINVAL", "EROFS", "EACCES"])
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_nth_write_fails_everything_restored(tmp_path: Path, nth: int, errno_name: str) -> None:
    root = make_root(tmp_path)
    (root / "etc/sysctl.d/90-memstall.conf").write_text("vm.min_free_kbytes = 67584\n")
    before = fingerprint(root)
    with injected(Faults(fail_write={nth: getattr(errno, errno_name)})):
        r = run_cli("--root", str(root), "tune", "apply", "--yes", "--persist", *SETS)
    assert r.code == 4, r.err
    names = ["vm.watermark_scale_factor = 150", "vm.swappiness = 10", "vm.extfrag_threshold = 700"]
    assert f"writing {names[nth - 1]} failed: " in r.err and f"[{errno_name}]" in r.err
    originals = ["vm.watermark_scale_factor = 10", "vm.swappiness = 60", "vm.extfrag_threshold = 500"]
    restored = r.err.split("restored ", 1)[1]
    for name in originals:
        assert name in restored  # every backed-up value is named, written or not
    assert "Traceback" not in r.err
    assert fingerprint(root) == before
    tx = json.loads(next((root / STATE / "tx").glob("*/tx.json")).read_text())
    assert tx["status"] == "failed"


def test_failed_write_after_earlier_successes_restores_them(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    with injected(Faults(fail_write={3: errno.EINVAL})):
        r = run_cli("--root", str(root), "tune", "apply", "--yes", *SETS)
    assert r.code == 4
    assert (vm(root, "watermark_scale_factor"), vm(root, "swappiness")) == ("10\n", "60\n")
    assert "undone: restored vm.watermark_scale_factor = 10, vm.swappiness = 60, vm.extfrag_threshold = 500" \
        in r.err


STEPS = ["after-backup:1", "before-write:1", "after-write:1", "before-write:2", "after-write:2",
         "before-write:3", "after-write:3", "before-persist:1", "after-persist:1"]


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_each_step_then_rollback(tmp_path: Path, step: str) -> None:
    root = make_root(tmp_path)
    (root / "etc/sysctl.d/90-memstall.conf").write_bytes(b"# admin's old copy\nvm.swappiness=42\n")
    before = fingerprint(root)
    proc = subprocess.run([sys.executable, DRIVER, "--kill-at", step, "--", "--root", str(root), "tune",
                           "apply", "--yes", "--persist", *SETS], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    verify = run_cli("--root", str(root), "tune", "verify")
    assert verify.code == 1 and "was interrupted while applying" in verify.out
    r = run_cli("--root", str(root), "tune", "rollback")
    assert (r.code, r.err) == (0, "")
    assert fingerprint(root) == before
    assert [p.name for p in (root / "etc/sysctl.d").iterdir()] == ["90-memstall.conf"]  # no temp file


def test_kill_before_the_record_exists_leaves_nothing_to_undo(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = fingerprint(root)
    # Killed at the first backup write: the transaction directory is still a temp dir.
    proc = subprocess.run([sys.executable, "-c",
                           "import os, signal, sys\n"
                           "from memstall.tune import fsio\n"
                           "real = fsio.atomic_write\n"
                           "def dying(*a, **k):\n"
                           "    os.kill(os.getpid(), signal.SIGKILL)\n"
                           "import memstall.tune.store as store\n"
                           "store.atomic_write = dying\n"
                           "from memstall.cli import main\n"
                           "sys.exit(main(sys.argv[1:]))\n",
                           "--root", str(root), "tune", "apply", "--yes", *SETS],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert fingerprint(root) == before
    r = run_cli("--root", str(root), "tune", "rollback")
    assert r.code == 2 and "nothing to roll back" in r.err


KNOBS = {"watermark_scale_factor": (1, 3000), "swappiness": (0, 200), "extfrag_threshold": (0, 1000),
         "compaction_proactiveness": (0, 100), "dirty_background_ratio": (0, 100),
         "watermark_boost_factor": (0, 30000)}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(sorted(KNOBS)), min_size=1, max_size=4, unique=True).flatmap(
    lambda names: st.tuples(st.just(names), st.lists(st.integers(0, 3000), min_size=len(names),
                                                     max_size=len(names)),
                            st.integers(1, len(names)), st.sampled_from(["EINVAL", "EROFS", "EIO"]))))
def test_any_failing_write_restores_everything(case: tuple[list[str], list[int], int, str]) -> None:
    names, raw, nth, errno_name = case
    sets: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = make_root(Path(tmp))
        real_writes = 0
        for name, value in zip(names, raw):
            lo, hi = KNOBS[name]
            new = lo + value % (hi - lo + 1)
            real_writes += vm(root, name).strip() != str(new)
            sets += ["--set", f"vm.{name}={new}"]
        before = fingerprint(root)
        with injected(Faults(fail_write={nth: getattr(errno, errno_name)})):
            r = run_cli("--root", str(root), "tune", "apply", "--yes", "--force", *sets)
        if real_writes == 0:
            assert r.code == 2 and "nothing to apply" in r.err
        elif nth > real_writes:
            assert r.code == 0, r.err
            assert run_cli("--root", str(root), "tune", "rollback").code == 0
        else:
            assert r.code == 4 and "undone: restored" in r.err, r.err
        assert fingerprint(root) == before


def test_dirty_bytes_backs_up_and_restores_dirty_ratio(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = fingerprint(root)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--set", "vm.dirty_bytes=2147483648")
    assert r.code == 0, r.err
    # A real kernel would zero dirty_ratio now; a plain file does not, but the backup exists.
    record = json.loads(next((root / STATE / "tx").glob("*/tx.json")).read_text())
    assert [(c["key"], c["after"]) for c in record["changes"]] == [
        ("vm/dirty_bytes", "2147483648"), ("vm/dirty_ratio", None)]
    assert run_cli("--root", str(root), "tune", "rollback").code == 0
    assert fingerprint(root) == before


def test_read_back_mismatch_restores_everything(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = fingerprint(root)
    with injected(Faults(store_instead={2: "42"})):  # the "kernel" keeps 42 instead of 10
        r = run_cli("--root", str(root), "tune", "apply", "--yes", *SETS)
    assert r.code == 4
    assert r.err.startswith(
        "memstall: error: writing vm.swappiness = 10 failed: read back '42'; transaction ")
    assert fingerprint(root) == before


def test_a_second_tune_command_waits_for_the_lock(tmp_path: Path) -> None:
    from memstall.tune.store import Store

    root = make_root(tmp_path)
    with Store(root / STATE).lock(create=True):
        r = run_cli("--root", str(root), "tune", "apply", "--yes", "--set", "vm.swappiness=10")
    assert r.code == 2 and "is locked by another memstall tune command" in r.err
    assert vm(root, "swappiness") == "60\n"


def test_production_code_never_reads_test_hooks_from_the_environment() -> None:
    src = Path(__file__).parent.parent / "src" / "memstall"
    readers = [p.name for p in src.rglob("*.py") if "MEMSTALL_TEST" in p.read_text()]
    assert readers == []


def test_injected_faults_end_with_the_block(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    with injected(Faults(fail_write={1: errno.EROFS})):
        assert run_cli("--root", str(root), "tune", "apply", "--yes", "--set", "vm.swappiness=10").code == 4
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--set", "vm.swappiness=10")
    assert (r.code, r.err) == (0, "") and vm(root, "swappiness") == "10\n"
