"""`tune` on a hostile or unlucky host (issue 9, Data and results: tune).

A full or read-only etc/sysctl.d, two applies racing on one root with different state
dirs, a revert watcher whose state dir was deleted, a mistyped --root, a closed stdout.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from memstall.tune.faults import Faults, injected
from test_tune_roots import STATE, fingerprint, make_root, vm

DRIVER = str(Path(__file__).parent / "tune_driver.py")
DROP_IN = "etc/sysctl.d/90-memstall.conf"
SETS = ("--set", "vm.swappiness=10", "--set", "vm.watermark_scale_factor=150")


def tx_records(state: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((state / "tx").glob("*/tx.json"))]


@pytest.mark.parametrize("old_drop_in", [None, b"# kept\nvm.min_free_kbytes = 67584\n"],
                         ids=["no-drop-in", "old-drop-in"])
@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC], ids=["read-only", "full"])
def test_unwritable_sysctl_d_restores_values_and_closes_the_transaction(
        tmp_path: Path, old_drop_in: bytes | None, code: int) -> None:
    root = make_root(tmp_path)
    if old_drop_in is not None:
        (root / DROP_IN).write_bytes(old_drop_in)
    before = fingerprint(root)
    with injected(Faults(fail_dir={"etc/sysctl.d": code})):
        r = run_cli("--root", str(root), "tune", "apply", "--yes", "--persist", *SETS)
    assert r.code == 4, r.err
    assert "internal error" not in r.err and len(r.err.strip().split("\n")) <= 2, r.err
    assert f"writing {DROP_IN} failed" in r.err and os.strerror(code) in r.err
    assert "restored vm.swappiness = 60, vm.watermark_scale_factor = 10" in r.err
    assert "COULD NOT RESTORE" not in r.err
    assert fingerprint(root) == before  # values back, drop-in untouched
    [tx] = tx_records(root / STATE)
    assert tx["status"] == "failed"
    history = run_cli("--root", str(root), "--format", "json", "tune", "history")
    assert [t["status"] for t in json.loads(history.out)["transactions"]] == ["failed"]


def test_rollback_on_a_read_only_sysctl_d_says_what_it_could_not_restore(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    assert run_cli("--root", str(root), "tune", "apply", "--yes", "--persist", *SETS).code == 0
    with injected(Faults(fail_dir={"etc/sysctl.d": errno.EROFS})):
        r = run_cli("--root", str(root), "tune", "rollback")
    assert r.code == 4 and "internal error" not in r.err, r.err
    assert "restored vm.swappiness = 60, vm.watermark_scale_factor = 10; " \
        f"could not restore {DROP_IN} (Read-only file system)" in r.err
    assert (vm(root, "swappiness"), vm(root, "watermark_scale_factor")) == ("60\n", "10\n")
    [tx] = tx_records(root / STATE)
    assert tx["status"] == "applied"  # the drop-in still holds its values: rollback can be re-run
    assert run_cli("--root", str(root), "tune", "rollback").code == 0
    assert not (root / DROP_IN).exists()


def test_two_persists_with_different_state_dirs_keep_both_keys(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    first = subprocess.Popen(
        [sys.executable, DRIVER, "--sleep-at", "before-persist:1:2", "--", "--root", str(root), "tune",
         "apply", "--yes", "--persist", "--set", "vm.swappiness=10", "--state-dir", str(tmp_path / "a")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not list((tmp_path / "a" / "tx").glob("*/written")):  # the first is inside its transaction
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--persist", "--set",
                "vm.watermark_scale_factor=150", "--state-dir", str(tmp_path / "b"))
    _, err = first.communicate(timeout=60)
    assert (first.returncode, r.code) == (0, 0), (err, r.err)
    drop_in = (root / DROP_IN).read_text()
    assert "vm.swappiness = 10" in drop_in and "vm.watermark_scale_factor = 150" in drop_in, drop_in


def test_sysctl_d_lock_held_elsewhere_is_a_clean_refusal(tmp_path: Path) -> None:
    import fcntl

    root = make_root(tmp_path)
    fd = os.open(root / "etc/sysctl.d", os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        from memstall.tune import rootfs
        rootfs.LOCK_WAIT_SECONDS, saved = 0.3, rootfs.LOCK_WAIT_SECONDS
        try:
            r = run_cli("--root", str(root), "tune", "apply", "--yes", "--persist",
                        "--set", "vm.swappiness=10")
        finally:
            rootfs.LOCK_WAIT_SECONDS = saved
    finally:
        os.close(fd)
    assert r.code == 2 and "etc/sysctl.d is locked by another memstall tune command" in r.err, r.err
    assert vm(root, "swappiness") == "60\n" and tx_records(root / STATE) == []


@pytest.mark.parametrize("command", [["rollback"], ["confirm", "20261126T043012.123456Z-3f9a"],
                                     ["revert-due", "20261126T043012.123456Z-3f9a"]])
def test_a_mistyped_root_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "roto"
    r = run_cli("--root", str(typo), "tune", *command)
    assert r.code in (2, 3) and len(r.err.strip().split("\n")) <= 2, r.err
    assert "no memstall transactions" in r.err or "not a directory" in r.err, r.err
    assert not typo.exists()
    assert list(tmp_path.iterdir()) == []


def test_watcher_whose_state_dir_was_deleted_logs_and_stops(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    state = tmp_path / "state"
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--set", "vm.swappiness=10",
                "--revert-after", "1", "--revert-with", "watcher", "--state-dir", str(state))
    assert r.code == 0, r.err
    [tx] = tx_records(state)
    pid = int(tx["revert"]["handle"])  # type: ignore[index]
    shutil.rmtree(state)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and b"revert-due" in Path(f"/proc/{pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the watcher did not stop"
        time.sleep(0.1)
    assert not state.exists()  # never recreated
    assert vm(root, "swappiness") == "10\n"  # nothing it could trust to restore


def test_revert_due_without_its_state_dir_is_one_line(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    state = tmp_path / "gone"
    r = run_cli("--root", str(root), "tune", "revert-due", "20261126T043012.123456Z-3f9a",
                "--state-dir", str(state))
    assert r.code == 3 and len(r.err.strip().split("\n")) <= 2, r.err
    assert f"no memstall transactions in {state}" in r.err and not state.exists()


def test_apply_with_stdout_closed_applies_and_exits_0(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    cmd = [sys.executable, "-m", "memstall", "--root", str(root), "tune", "apply", "--yes", *SETS]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       preexec_fn=lambda: os.close(1), check=False)
    assert p.returncode == 0, p.stderr
    [tx] = tx_records(root / STATE)
    assert tx["status"] == "applied" and vm(root, "swappiness") == "10\n"
    assert p.stderr == f"memstall: note: stdout is closed; transaction {tx['id']} applied " \
                       "(`memstall tune history` shows it)\n"
    cmd = [sys.executable, "-m", "memstall", "--root", str(root), "tune", "rollback"]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       preexec_fn=lambda: os.close(1), check=False)
    assert p.returncode == 0 and "rolled back" in p.stderr, p.stderr
    assert vm(root, "swappiness") == "60\n" and tx_records(root / STATE)[0]["status"] == "rolled-back"
