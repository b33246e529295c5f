"""`memstall snapshot` as a user who cannot read the root-only files (issue 9, Crashes).

debugfs (/sys/kernel/debug, mode 0700) and /proc/pagetypeinfo (0400) are root's. The
capture runs as nobody in a forked child when the tests run as root (the child keeps the
modules its parent imported: the interpreter itself may sit in a directory nobody cannot
read), or directly when they already run as another user; either way the root-only files
are unreadable to it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from memstall.cli import Io, main

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
NOBODY = 65534
DEBUGFS = ("sys/kernel/debug/extfrag/extfrag_index", "sys/kernel/debug/extfrag/unusable_index")


def _as_nobody(argv: list[str]) -> tuple[int, str, str]:
    """main(argv) with the privileges of nobody: a forked child when we are root."""
    if os.geteuid() != 0:
        out, err = io.StringIO(), io.StringIO()
        return main(argv, Io(out, err)), out.getvalue(), err.getvalue()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges for good, run, report through the pipe
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out, err = io.StringIO(), io.StringIO()
            code = main(argv, Io(out, err))
            with os.fdopen(write_end, "w") as fh:
                json.dump([code, out.getvalue(), err.getvalue(), os.geteuid()], fh)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and data, "the unprivileged child failed"
    code, out, err, euid = json.loads(data)
    assert euid == NOBODY
    return code, out, err


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
    code, stdout, stderr = _as_nobody(["--root", str(root_only_root), "snapshot", "-o", str(out / "cap")])
    assert code == 0, stderr
    assert "internal error" not in stderr and stdout.startswith(f"wrote {out / 'cap'}: ")
    manifest = json.loads((out / "cap" / "MANIFEST.json").read_text())
    for rel in DEBUGFS:
        why = manifest["unavailable"][rel]
        assert "permission denied" in why and "root" in why, why
        assert f"not captured: {rel}: " in stderr
    assert "permission denied" in manifest["unavailable"]["proc/pagetypeinfo"]
    assert "root" in manifest["unavailable"]["proc/pagetypeinfo"]
    for rel in ("proc/buddyinfo", "proc/zoneinfo", "proc/vmstat", "proc/meminfo",
                "proc/sys/vm/min_free_kbytes"):
        assert (out / "cap" / rel).read_bytes() == (IDLE / rel).read_bytes(), rel
    # and the capture reads back
    r = run_cli("--root", str(out / "cap"), "show", "frag")
    assert r.code == 0, r.err
