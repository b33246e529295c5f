"""--revert-after with the detached watcher (tmp roots never use the host's systemd)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from test_tune_roots import STATE, fingerprint, make_root, vm


def _wait_for(pred: object, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def _tx(root: Path) -> dict[str, object]:
    return json.loads(next((root / STATE / "tx").glob("*/tx.json")).read_text())  # type: ignore[no-any-return]


def test_unconfirmed_change_is_rolled_back_by_the_watcher(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = fingerprint(root)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--persist", "--revert-after", "2",
                "--set", "vm.watermark_scale_factor=100")
    assert r.code == 0, r.err
    assert "by a detached watcher (" in r.out and "unless you run: memstall tune confirm " in r.out
    assert vm(root, "watermark_scale_factor") == "100\n"
    assert _wait_for(lambda: _tx(root)["status"] == "rolled-back")
    assert fingerprint(root) == before
    assert any("not confirmed within 2s" in e for e in _tx(root)["events"])  # type: ignore[attr-defined]


def test_confirmed_change_stays(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--revert-after", "3",
                "--set", "vm.swappiness=10")
    assert r.code == 0
    tx_id = _tx(root)["id"]
    pid = int(_tx(root)["revert"]["handle"])  # type: ignore[index]
    c = run_cli("--root", str(root), "tune", "confirm", str(tx_id))
    assert c.code == 0 and f"confirmed {tx_id}: it stays applied (stopped watcher pid {pid})" in c.out
    doc = json.loads(run_cli("--root", str(root), "tune", "confirm", str(tx_id), "--format", "json").out)
    assert (doc["schema"], doc["id"], doc["confirmed"]) == ("memstall.tune.tx/1", tx_id, "already confirmed")
    assert doc["revert"]["confirmed"] is True
    time.sleep(4)
    assert vm(root, "swappiness") == "10\n" and _tx(root)["status"] == "applied"
    assert _tx(root)["revert"]["confirmed"] is True  # type: ignore[index]
    late = run_cli("--root", str(root), "tune", "rollback")
    assert late.code == 0 and vm(root, "swappiness") == "60\n"
    again = run_cli("--root", str(root), "tune", "confirm", str(tx_id))
    assert again.code == 2 and "too late" in again.err


def test_watcher_survives_memstall_being_killed(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = fingerprint(root)
    driver = str(Path(__file__).parent / "tune_driver.py")
    proc = subprocess.run([sys.executable, driver, "--kill-at", "after-schedule:1", "--", "--root", str(root),
                           "tune", "apply", "--yes", "--revert-after", "2", "--set", "vm.swappiness=10"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert vm(root, "swappiness") == "10\n"
    assert _wait_for(lambda: _tx(root)["status"] == "rolled-back")
    assert fingerprint(root) == before


def test_rollback_before_the_deadline_stops_the_watcher(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    run_cli("--root", str(root), "tune", "apply", "--yes", "--revert-after", "30",
            "--set", "vm.swappiness=10")
    pid = int(_tx(root)["revert"]["handle"])  # type: ignore[index]
    assert Path(f"/proc/{pid}").exists()
    assert run_cli("--root", str(root), "tune", "rollback").code == 0
    assert _wait_for(lambda: not Path(f"/proc/{pid}").exists()
                     or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", 10)


def test_revert_after_must_be_positive(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--revert-after", "0",
                "--set", "vm.swappiness=1")
    assert r.code == 2 and "--revert-after takes a number of seconds >= 1" in r.err
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--revert-after", "5",
                "--revert-with", "systemd", "--set", "vm.swappiness=1")
    assert r.code == 2 and "--revert-with systemd needs systemd as PID 1 and --root /" in r.err
    assert vm(root, "swappiness") == "60\n"


def test_watcher_with_a_relative_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_root(tmp_path)
    before = fingerprint(root)
    monkeypatch.chdir(tmp_path)
    r = run_cli("--root", "root", "tune", "apply", "--yes", "--revert-after", "1",
                "--set", "vm.swappiness=10")
    assert r.code == 0, r.err
    monkeypatch.chdir("/")
    assert _wait_for(lambda: _tx(root)["status"] == "rolled-back")
    assert fingerprint(root) == before


def test_verify_reports_a_revert_that_never_ran(tmp_path: Path) -> None:
    """The watcher died (reboot, OOM kill) before its deadline: nobody rolls back, verify says so."""
    root = make_root(tmp_path)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--revert-after", "60",
                "--set", "vm.swappiness=10")
    assert r.code == 0, r.err
    tx = _tx(root)
    pid = int(tx["revert"]["handle"])  # type: ignore[index]
    os.kill(pid, signal.SIGKILL)
    assert _wait_for(lambda: not Path(f"/proc/{pid}").exists()
                     or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", 10)
    v = run_cli("--root", str(root), "tune", "verify")
    assert "automatic rollback" not in v.out  # not due yet
    record = next((root / STATE / "tx").glob("*/tx.json"))
    doc = json.loads(record.read_text())
    doc["revert"]["deadline"] -= 60 + 151  # as if the deadline and the grace had passed
    record.write_text(json.dumps(doc))
    v = run_cli("--root", str(root), "tune", "verify")
    assert v.code == 1
    assert (f"drift: transaction {tx['id']}: the automatic rollback (detached watcher {pid}) was due "
            in v.out)
    assert f"did not run: `memstall tune rollback {tx['id']}` or `memstall tune confirm {tx['id']}`" in v.out
    assert vm(root, "swappiness") == "10\n"
