"""`memstall snapshot` as a user who cannot read the root-only files (issue 9, Crashes).

debugfs (/sys/kernel/debug, mode 0700) and /proc/pagetypeinfo (0400) are root's. The
capture runs as nobody in a forked child when the tests run as root (test_cli_errors'
_run_as_nobody, after a warm-up run that imports every module: the interpreter may sit in
a directory nobody cannot read), or directly when they already run as another user;
either way the root-only files are unreadable to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from test_cli_errors import _run_as_nobody

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
DEBUGFS = ("sys/kernel/debug/extfrag/extfrag_index", "sys/kernel/debug/extfrag/unusable_index")


@pytest.fixture
def root_only_root() -> Iterator[Path]:
    """A copy of a capture (no MANIFEST: read like a host) whose debugfs and pagetypeinfo
    only root may read, in a directory nobody can reach (pytest's tmp_path is root's 0700)."""
    base = Path(tempfile.mkdtemp(prefix="memstall-nonroot-"))
    try:
        base.chmod(0o755)
        root = base / "root"
        shutil.copytree(IDLE, root, ignore=shutil.ignore_patterns("expected", "MANIFEST.json"))
        extfrag = root / "sys/kernel/debug/extfrag"
        extfrag.mkdir(parents=True, exist_ok=True)
        for rel in DEBUGFS:
            if not (root / rel).exists():
                (root / rel).write_text("Node 0, zone   Normal -1.000 -1.000\n")
        out = base / "out"
        out.mkdir()
        out.chmod(0o777)
        (root / "sys/kernel/debug").chmod(0o000)
        (root / "proc/pagetypeinfo").chmod(0o000)
        yield root
    finally:
        with contextlib.suppress(FileNotFoundError):
            (base / "root/sys/kernel/debug").chmod(0o755)
        shutil.rmtree(base)


def test_snapshot_without_root_skips_root_only_files_and_says_why(root_only_root: Path) -> None:
    out = root_only_root.parent / "out"
    # Warm up as ourselves: every module the command needs is imported before the fork.
    assert run_cli("--root", str(root_only_root), "snapshot", "-o", str(out / "warm")).code == 0
    argv = ("--root", str(root_only_root), "snapshot", "-o", str(out / "cap"))
    r = _run_as_nobody(*argv) if os.geteuid() == 0 else run_cli(*argv)
    code, stdout, stderr = r.code, r.out, r.err
    assert code == 0, stderr
    assert "internal error" not in stderr and stdout.startswith(f"wrote {out / 'cap'}: ")
    manifest = json.loads((out / "cap" / "MANIFEST.json").read_text())
    for rel in DEBUGFS:
        why = manifest["unavailable"][rel]
        assert why.startswith("permission denied: debugfs is root's (mode 0700)"), why
        assert f"not captured: {rel}: " in stderr
    assert manifest["unavailable"]["proc/pagetypeinfo"] == "permission denied"
    for rel in ("proc/buddyinfo", "proc/zoneinfo", "proc/vmstat", "proc/meminfo",
                "proc/sys/vm/min_free_kbytes"):
        assert (out / "cap" / rel).read_bytes() == (IDLE / rel).read_bytes(), rel
    # and the capture reads back
    r = run_cli("--root", str(out / "cap"), "show", "frag")
    assert r.code == 0, r.err
