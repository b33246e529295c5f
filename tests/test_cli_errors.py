"""Bad input at the CLI: exit 3, one `memstall: error:` line naming the file, no traceback."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import FIXTURES, CliResult, run_cli
from memstall.cli import build_parser
from memstall.cli.show import NEEDS
from memstall.collect.registry import record_for

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root)
    # The idle capture predates slabinfo: the same VM's, so that `show slab` has its file too.
    shutil.copy(FIXTURES / "samples" / "slabinfo" / "valid" / "x86_64-6.18.txt", root / "proc" / "slabinfo")
    return root


def _assert_one_error(r: CliResult, starts: str) -> None:
    assert r.code == 3, (r.out, r.err)
    assert "Traceback" not in r.err and r.out == ""
    errors = [line for line in r.err.splitlines() if line.startswith("memstall: error: ")]
    assert len(errors) == 1, r.err
    assert errors[0].startswith(f"memstall: error: {starts}"), errors[0]
    assert all(line.startswith(("memstall: error: ", "hint: ")) for line in r.err.splitlines())


def test_missing_root() -> None:
    r = run_cli("--root", "/nonexistent/root", "show", "frag")
    _assert_one_error(r, "/nonexistent/root: no such file or directory")


def test_directory_that_is_not_a_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    _assert_one_error(run_cli("--root", str(tmp_path), "show", "frag"),
                      f"{tmp_path}: not a root filesystem: expected a proc/ directory")


@pytest.mark.parametrize(("suffix", "mode"), [(".tar.gz", "w:gz"), (".tar.xz", "w:xz"), (".tar", "w")])
def test_truncated_tarball(tmp_path: Path, suffix: str, mode: str) -> None:
    full = tmp_path / f"full{suffix}"
    with tarfile.open(full, mode) as tar:  # type: ignore[call-overload]
        tar.add(IDLE, arcname="snap")
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    _assert_one_error(run_cli("--root", str(cut), "show", "frag"),
                      f"{cut}: cannot read as a tarball: truncated or corrupt tarball")


@pytest.mark.parametrize("kind", ["no members", "zero bytes", "gzip of nothing"])
def test_empty_tarball(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "empty.tar.gz"
    if kind == "no members":
        with tarfile.open(path, "w:gz"):
            pass
    elif kind == "zero bytes":
        path.write_bytes(b"")
    else:
        path.write_bytes(gzip.compress(b""))
    r = run_cli("--root", str(path), "show", "frag")
    _assert_one_error(r, f"{path}: ")
    assert "holds no file memstall reads" in r.err or "cannot read as a tarball" in r.err


def test_a_file_that_is_not_a_tarball(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    _assert_one_error(run_cli("--root", str(path), "show", "frag"),
                      f"{path}: cannot read as a tarball")


# (file, line number to replace (1-based), replacement, expected message start)
CORRUPT = [
    ("proc/buddyinfo", 2, "Node 0, zone    DMA32      2      x      4",
     "proc/buddyinfo:2: expected a free-block count per order, "
     "got 'Node 0, zone    DMA32      2      x      4'"),
    ("proc/zoneinfo", 3, "        min      forty",
     "proc/zoneinfo:3: expected '<key> <int>', got '        min      forty'"),
    ("proc/vmstat", 1, "nr_free_pages twelve", "proc/vmstat:1: expected '<name> <int>'"),
    ("proc/meminfo", 2, "MemFree:        23717996 MB", "proc/meminfo:2: expected the unit 'kB' or no unit"),
    ("proc/pressure/memory", 1, "some avg10=abc avg60=0.00 avg300=0.00 total=0",
     "proc/pressure/memory:1: expected 'some|full avg10=<f>"),
    ("proc/sys/vm/min_free_kbytes", 1, "lots", "proc/sys/vm/min_free_kbytes:1: expected an integer"),
    ("sys/kernel/mm/transparent_hugepage/enabled", 1, "always madvise never",
     "sys/kernel/mm/transparent_hugepage/enabled:1: expected the choices with exactly one in [brackets]"),
    ("sys/kernel/debug/extfrag/extfrag_index", 1, "Node 0, zone      DMA -1.000 0.5",
     "sys/kernel/debug/extfrag/extfrag_index:1: expected values like '0.937'"),
    ("sys/kernel/mm/transparent_hugepage/khugepaged/defrag", 1, "yes",
     "sys/kernel/mm/transparent_hugepage/khugepaged/defrag:1: expected 0 or 1, got 'yes'"),
    ("proc/uptime", 1, "soon", "proc/uptime:1: expected '<seconds> <idle seconds>'"),
    ("proc/uptime", 1, "nan 12.5", "proc/uptime:1: expected '<seconds> <idle seconds>', got 'nan 12.5'"),
    ("proc/uptime", 1, "-3.0 1.0", "proc/uptime:1: expected '<seconds> <idle seconds>', got '-3.0 1.0'"),
    ("proc/36/stat", 1, "36 (kcompactd0) S", "proc/36/stat:1: expected '<pid> (<comm>) <state> ...'"),
    ("sys/devices/system/node/node0/vmstat", 4, "nr_inactive_anon -",
     "sys/devices/system/node/node0/vmstat:4:"),
    ("MANIFEST.json", 1, "{not json", "MANIFEST.json:1: expected a JSON object"),
]


@pytest.mark.parametrize(("rel", "line_no", "bad", "message"), CORRUPT, ids=[c[0] for c in CORRUPT])
def test_corrupt_line_names_file_and_line(tmp_path: Path, rel: str, line_no: int, bad: str,
                                          message: str) -> None:
    root = _copy(tmp_path)
    lines = (root / rel).read_text().splitlines()
    lines[line_no - 1] = bad
    (root / rel).write_text("\n".join(lines) + "\n")
    # The views that show the file name its line; every other view runs and says what it
    # left out (issue 9: one file's oddity must not stop a command that does not need it).
    needing = [what for what, needs in NEEDS.items() if _fills(rel) in needs]
    assert needing or rel == "MANIFEST.json"
    for what in needing or ["frag", "vmstat"]:
        _assert_one_error(run_cli("--root", str(root), "show", what), message)
    for what in sorted(set(NEEDS) - set(needing)) if needing else ():
        r = run_cli("--root", str(root), "show", what)
        assert r.code == 0, (what, r.err)
        assert f" left out: {message}" in r.err, (what, r.err)


def _fills(rel: str) -> str | None:
    """The SystemState field `rel` fills; None for MANIFEST.json, which every view reads."""
    record = record_for(rel)
    assert record is not None or rel == "MANIFEST.json", rel
    return record.field if record else None


def test_corrupt_file_inside_a_tarball(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "proc/buddyinfo").write_text("Node 0, zone DMA 1 2\nNode 0, zone Normal 1\n")
    tar = tmp_path / "c.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(root, arcname="c")
    _assert_one_error(run_cli("--root", str(tar), "show", "frag"),
                      "proc/buddyinfo:2: expected 2 orders like the lines above")


def test_file_replaced_by_a_directory(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "proc/zoneinfo").unlink()
    (root / "proc/zoneinfo").mkdir()
    _assert_one_error(run_cli("--root", str(root), "show", "watermarks"),
                      "proc/zoneinfo: is a directory, expected a file")


def _run_as_nobody(*argv: str) -> CliResult:
    """Run the CLI in a forked child that dropped root.

    Every module is imported first, in the parent: the unprivileged child may not be able
    to read the interpreter's own library directory (a pyenv under /root, say).
    """
    build_parser()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            r = run_cli(*argv)
            os.write(write_fd, json.dumps([r.code, r.out, r.err]).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    code, out, err = json.loads(data)
    return CliResult(code, out, err)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux file permissions")
def test_unreadable_file() -> None:
    # A world-traversable temporary directory: the unprivileged child must reach the file.
    top = Path(tempfile.mkdtemp(prefix="memstall-unreadable-"))
    try:
        top.chmod(0o755)
        root = _copy(top)
        (root / "proc/zoneinfo").chmod(0)
        if os.geteuid() != 0:
            r = run_cli("--root", str(root), "show", "watermarks")
        else:
            # root reads a mode-000 file anyway: drop to nobody in a child to see the error.
            r = _run_as_nobody("--root", str(root), "show", "watermarks")
        _assert_one_error(r, "proc/zoneinfo: permission denied")
        assert "hint: run as root" in r.err
    finally:
        shutil.rmtree(top)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}
    r = subprocess.run([sys.executable, "-m", "memstall", "--debug", "--root", "/nonexistent/x",
                        "show", "frag"], capture_output=True, text=True, env=env, check=False)
    assert r.returncode != 0
    assert "Traceback (most recent call last)" in r.stderr
    assert "SourceUnavailable: /nonexistent/x: no such file or directory" in r.stderr
    plain = subprocess.run([sys.executable, "-m", "memstall", "--root", "/nonexistent/x", "show",
                            "frag"], capture_output=True, text=True, env=env, check=False)
    assert plain.returncode == 3 and "Traceback" not in plain.stderr


@pytest.mark.parametrize("page_size", [0, 3000, -4096, True, "4096", 1024])
def test_manifest_with_an_impossible_page_size(tmp_path: Path, page_size: object) -> None:
    root = _copy(tmp_path)
    manifest = json.loads((root / "MANIFEST.json").read_text())
    manifest["page_size"] = page_size
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    for what in ("frag", "watermarks"):  # was: garbage JSON, and an internal error (exit 70)
        _assert_one_error(run_cli("--root", str(root), "show", what, "--format", "json"),
                          f"MANIFEST.json: expected page_size to be a power of two of at least "
                          f"4096 bytes, got '{json.dumps(page_size)}'")
