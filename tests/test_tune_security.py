"""Hostile inputs to `tune` (issue 9, Security), each built in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from test_tune_roots import fingerprint, make_root, vm

DROP_IN = "etc/sysctl.d/90-memstall.conf"
# Every character systemd's or Python's line splitting may treat as a line break, and the
# rest of Cc: none may reach a drop-in, an export or /proc/sys.
SEPARATORS = ["\r", "\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\t", "\x1b",
              "\x7f", "\x01"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path)


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(c):04X}" for c in SEPARATORS])
@pytest.mark.parametrize("where", ["value", "name"])
def test_control_and_line_separators_are_refused(root: Path, sep: str, where: str) -> None:
    setting = (f"vm.swappiness=10{sep}kernel.modprobe = /tmp/payload" if where == "value"
               else f"vm.swappiness{sep}kernel.modprobe=10")
    before = fingerprint(root)
    for args in (("apply", "--yes", "--persist", "--force"), ("export", "--format", "sysctl"),
                 ("export", "--format", "tuned"), ("plan",)):
        r = run_cli("--root", str(root), "tune", *args, "--set", setting)
        assert r.code == 2, (args, r.out, r.err)
        assert "control or line-separator character" in r.err and f"U+{ord(sep):04X}" in r.err
        lines = r.err.split("\n")
        assert len(lines) <= 3 and not any(sep in line for line in lines) and "payload" not in r.out
    assert fingerprint(root) == before


@pytest.mark.parametrize("value", ["١٠", "²", "1٠", "10\u00a0"])
def test_numbers_in_ascii_digits_only(root: Path, value: str) -> None:
    before = fingerprint(root)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--force", "--set", f"vm.swappiness={value}")
    assert r.code == 2 and "ASCII" in r.err and "internal error" not in r.err, r.err
    assert fingerprint(root) == before and vm(root, "swappiness") == "60\n"
    w = run_cli("--root", str(root), "whatif", "--set", f"vm.watermark_scale_factor={value}")
    assert w.code == 2 and "internal error" not in w.err


@pytest.mark.parametrize("setting", ["kernel.core_pattern=|/tmp/payload %p", "kernel.modprobe=/tmp/payload",
                                     "net.ipv4.ip_forward=1", "vm.swappiness/../../kernel/modprobe=1"])
def test_keys_outside_vm_are_refused_even_with_force(root: Path, setting: str) -> None:
    kernel = root / "proc/sys/kernel"
    kernel.mkdir(parents=True, exist_ok=True)
    for name in ("core_pattern", "modprobe"):
        (kernel / name).write_text("core\n")
    before = fingerprint(root)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--force", "--set", setting)
    assert r.code == 2 and "tune changes only the kernel's memory-management settings (vm.*)" in r.err, r.err
    assert "--force overrides" not in r.err
    assert fingerprint(root) == before


# --- writes resolved inside --root (issue 9 security 1) -------------------------------------

SECRET = "SECRET-CONTENT-OUTSIDE-THE-ROOT\n"


@pytest.fixture(params=["openat2", "nofollow-walk"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    from memstall import rootfd

    if request.param == "openat2":
        if not rootfd.openat2_available():
            pytest.skip("this kernel has no openat2 (Linux < 5.6)")
    else:
        monkeypatch.setitem(rootfd._state, "openat2", False)  # force the O_NOFOLLOW walk
    return str(request.param)


def _outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "victim").write_text(SECRET)
    return out


def _assert_refused(root: Path, outside: Path, before: dict[str, tuple[bytes | str, int]],
                    *args: str) -> None:
    r = run_cli("--root", str(root), "tune", "apply", "--yes", *args)
    assert r.code == 4, (r.code, r.out, r.err)
    assert "is a symbolic link or leads out of --root" in r.err and len(r.err.splitlines()) <= 2, r.err
    assert SECRET.strip() not in r.out + r.err and "Traceback" not in r.err
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]
    assert (outside / "victim").read_text() == SECRET
    assert fingerprint(root) == before


def test_a_sysctl_file_linked_out_of_the_root_is_not_written(tmp_path: Path, resolver: str) -> None:
    root, outside = make_root(tmp_path), _outside(tmp_path)
    (root / "proc/sys/vm/swappiness").unlink()
    (root / "proc/sys/vm/swappiness").symlink_to(outside / "victim")
    _assert_refused(root, outside, fingerprint(root), "--force", "--set", "vm.swappiness=10")


def test_proc_linked_out_of_the_root_is_not_written(tmp_path: Path, resolver: str) -> None:
    root, outside = make_root(tmp_path), _outside(tmp_path)
    (outside / "sys/vm").mkdir(parents=True)
    (outside / "sys/vm/swappiness").write_text(SECRET)
    (root / "proc").rename(tmp_path / "proc.real")
    (root / "proc").symlink_to(outside)
    before = fingerprint(root)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--force", "--set", "vm.swappiness=10")
    assert r.code != 0 and SECRET.strip() not in r.out + r.err
    assert (outside / "sys/vm/swappiness").read_text() == SECRET and fingerprint(root) == before


def test_sysctl_d_linked_out_of_the_root_is_not_written(tmp_path: Path, resolver: str) -> None:
    root, outside = make_root(tmp_path), _outside(tmp_path)
    (root / "etc/sysctl.d").rmdir()
    (root / "etc/sysctl.d").symlink_to(outside)
    _assert_refused(root, outside, fingerprint(root), "--persist", "--set", "vm.swappiness=10")


def test_state_dir_linked_out_of_the_root_is_not_written(tmp_path: Path, resolver: str) -> None:
    root, outside = make_root(tmp_path), _outside(tmp_path)
    (root / "var/lib").mkdir(parents=True)
    (root / "var/lib/memstall").symlink_to(outside)
    _assert_refused(root, outside, fingerprint(root), "--set", "vm.swappiness=10")
    (root / "var/lib/memstall").unlink()
    (root / "var").rename(tmp_path / "var.real")
    (root / "var").symlink_to(outside)  # a link higher up the default state path
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--set", "vm.swappiness=10")
    assert r.code == 4 and sorted(p.name for p in outside.iterdir()) == ["victim"]


# --- the state directory and what a rollback may write (issue 9 security 2) ------------------

def _state_tx(root: Path) -> Path:
    return next((root / "var/lib/memstall/tx").iterdir())


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757])
def test_a_state_dir_others_can_write_is_refused(root: Path, tmp_path: Path, mode: int) -> None:
    state = tmp_path / "shared-state"
    state.mkdir()
    state.chmod(mode)
    before = fingerprint(root)
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--state-dir", str(state),
                "--set", "vm.swappiness=10")
    assert r.code == 2 and f"state directory {state} is writable by group or others" in r.err, r.err
    assert fingerprint(root) == before and list(state.iterdir()) == []
    r = run_cli("--root", str(root), "tune", "rollback", "--state-dir", str(state))
    assert r.code == 2 and "refusing to trust the transactions in it" in r.err


def test_a_state_file_others_can_write_is_refused(root: Path) -> None:
    assert run_cli("--root", str(root), "tune", "apply", "--yes", "--set", "vm.swappiness=10").code == 0
    record = _state_tx(root) / "tx.json"
    record.chmod(0o666)
    r = run_cli("--root", str(root), "tune", "rollback")
    assert r.code == 2 and f"state file {record} is writable by group or others" in r.err
    assert vm(root, "swappiness") == "10\n"


def test_a_state_dir_owned_by_another_user_is_refused(root: Path, tmp_path: Path) -> None:
    import os

    state = tmp_path / "theirs"
    state.mkdir(mode=0o700)
    try:
        os.chown(state, 65534, 65534)
    except PermissionError:
        pytest.skip("needs root to give a directory to another user")
    r = run_cli("--root", str(root), "tune", "apply", "--yes", "--state-dir", str(state),
                "--set", "vm.swappiness=10")
    assert r.code == 2 and "is owned by uid 65534, not by this user" in r.err
    assert vm(root, "swappiness") == "60\n"


def test_rollback_restores_only_keys_this_transaction_wrote(root: Path) -> None:
    """A rewritten tx.json (as another user could, given a writable state dir) lists
    kernel.core_pattern and a vm key the transaction never wrote: rollback writes neither."""
    import json

    kernel = root / "proc/sys/kernel"
    kernel.mkdir(parents=True, exist_ok=True)
    (kernel / "core_pattern").write_text("core\n")
    assert run_cli("--root", str(root), "tune", "apply", "--yes", "--set", "vm.swappiness=10").code == 0
    tx = _state_tx(root)
    doc = json.loads((tx / "tx.json").read_text())
    doc["changes"] += [
        {"key": "kernel/core_pattern", "after": "core", "backup": "7", "before_text": "|/tmp/payload %p"},
        {"key": "vm/extfrag_threshold", "after": "500", "backup": "8", "before_text": "1"}]
    (tx / "tx.json").write_text(json.dumps(doc))
    (tx / "before/7").write_text("|/tmp/payload %p\n")
    (tx / "before/8").write_text("1\n")
    for f in (tx / "tx.json", tx / "before/7", tx / "before/8"):
        f.chmod(0o600)
    r = run_cli("--root", str(root), "tune", "rollback")
    assert (kernel / "core_pattern").read_text() == "core\n"
    assert vm(root, "extfrag_threshold") == "500\n"
    assert vm(root, "swappiness") == "60\n", r.err
    assert "payload" not in r.out
