"""`memstall snapshot`: what it copies, the manifest, atomic writes, samples."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from memstall import specs
from memstall.cli.show import VIEWS
from memstall.collect.registry import sample_paths, snapshot_paths

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
MANIFEST_KEYS = {"format", "kernel", "arch", "page_size", "numa_nodes", "captured", "source",
                 "hostname", "edited", "shows", "files", "unavailable", "samples",
                 "interval_seconds", "extfrag_buddyinfo_stable", "clock_ticks_per_second"}


def _spec_patterns() -> list[str]:
    singles = snapshot_paths()
    return singles + [f"{specs.SAMPLES_DIR}/[0-9]*/{p}" for p in sample_paths()]


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _views_json(root: Path) -> dict[str, str]:
    return {what: run_cli("--root", str(root), "show", what, "--format", "json").out
            for what in VIEWS}


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar", ".tar.xz", ""])
def test_recapture_of_a_capture_is_the_same_capture(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"snap{suffix}"
    r = run_cli("--root", str(IDLE), "snapshot", "-o", str(out), "--shows", "x")
    assert r.code == 0, r.err
    assert r.out.startswith(f"wrote {out}: ")
    # Every view reads the same from the new capture as from the old one.
    assert _views_json(out) == _views_json(IDLE)
    if suffix:
        assert out.stat().st_mode & 0o777 == 0o600
        with tarfile.open(out) as tar:
            names = tar.getnames()
        assert all(n.startswith("snap/") for n in names)


def test_manifest_fields_and_file_list(tmp_path: Path) -> None:
    out = tmp_path / "d"
    assert run_cli("--root", str(IDLE), "snapshot", "-o", str(out)).code == 0
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert set(manifest) == MANIFEST_KEYS
    old = json.loads((IDLE / "MANIFEST.json").read_text())
    assert manifest["format"] == "memstall.snapshot/1"
    assert manifest["hostname"] is None and manifest["edited"] == []
    assert (manifest["kernel"], manifest["arch"], manifest["page_size"], manifest["numa_nodes"]) == (
        old["kernel"], old["arch"], old["page_size"], old["numa_nodes"])
    assert manifest["captured"].endswith("Z") and manifest["source"].startswith("memstall snapshot ")
    assert set(manifest["files"]) == _files(out) - {"MANIFEST.json"}
    patterns = _spec_patterns()
    stray = [f for f in manifest["files"] if not any(fnmatch.fnmatchcase(f, p) for p in patterns)]
    assert stray == []


def test_captures_only_spec_paths_and_skips_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root)
    (root / "proc/cpuinfo").write_text("secret\n")
    (root / "proc/sys/vm/drop_caches").write_text("")
    (root / "proc/1").mkdir()
    (root / "proc/1/comm").write_text("systemd\n")
    (root / "proc/1/stat").write_text("1 (systemd) S 0\n")
    out = tmp_path / "d"
    assert run_cli("--root", str(root), "snapshot", "-o", str(out)).code == 0
    files = _files(out)
    assert "proc/cpuinfo" not in files and "proc/sys/vm/drop_caches" not in files
    assert "proc/1/comm" not in files
    assert {"proc/36/comm", "proc/36/stat"} <= files  # kcompactd0 in this capture


def test_unavailable_files_are_listed_with_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root, ignore=shutil.ignore_patterns("debug", "pressure"))
    out = tmp_path / "d"
    r = run_cli("--root", str(root), "snapshot", "-o", str(out))
    assert r.code == 0
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["unavailable"]["proc/pressure/memory"] == "no such file"
    assert "debugfs not mounted" in manifest["unavailable"][specs.DEBUGFS_EXTFRAG_INDEX]
    assert manifest["extfrag_buddyinfo_stable"] is None
    assert "not captured: proc/pressure/memory: no such file" in r.err


def test_samples_layout_and_loading(tmp_path: Path) -> None:
    out = tmp_path / "s.tar.gz"
    r = run_cli("--root", str(IDLE), "snapshot", "-o", str(out), "--samples", "3", "--interval", "0")
    assert r.code == 0, r.err
    with tarfile.open(out) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames()}
    assert {"samples/1/proc/vmstat", "samples/2/proc/vmstat", "samples/2/proc/uptime",
            "samples/2/proc/36/stat"} <= names
    assert not any(n.startswith("samples/1/proc/sys") for n in names)
    manifest = json.loads(run_cli("--root", str(out), "snapshot", "-o", str(tmp_path / "x"),
                                  "--format", "json").out)["manifest"]
    assert manifest["samples"] == 1  # a re-capture reads sample 0 only
    for k in ("0", "1", "2"):
        assert run_cli("--root", str(out), "show", "kthreads", "--sample", k).code == 0


def test_refuses_a_non_empty_directory_and_a_missing_parent(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full/x").write_text("keep me\n")
    r = run_cli("--root", str(IDLE), "snapshot", "-o", str(tmp_path / "full"))
    assert r.code == 3 and "already exists" in r.err
    assert (tmp_path / "full/x").read_text() == "keep me\n"
    r = run_cli("--root", str(IDLE), "snapshot", "-o", str(tmp_path / "nope/s.tar.gz"))
    assert r.code == 3 and "no such directory" in r.err
    assert run_cli("--root", str(IDLE), "snapshot", "--samples", "0").code == 2


def test_refuses_to_overwrite_an_existing_tarball(tmp_path: Path) -> None:
    # Like a non-empty directory: `snapshot -o before.tar.gz` run twice must not lose the
    # "before" capture.
    old = tmp_path / "before.tar.gz"
    old.write_bytes(b"an earlier capture")
    r = run_cli("--root", str(IDLE), "snapshot", "-o", str(old))
    assert r.code == 3 and r.out == ""
    assert r.err.startswith(f"memstall: error: {old}: already exists"), r.err
    assert old.read_bytes() == b"an earlier capture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["before.tar.gz"]


@pytest.mark.parametrize("name", ["s.zip", "s.gz", "s.tar.zst", "s.7z", "s.xz"])
def test_refuses_an_archive_name_it_cannot_write(tmp_path: Path, name: str) -> None:
    # These used to become a *directory* named s.zip, which no archiver can open.
    r = run_cli("--root", str(IDLE), "snapshot", "-o", str(tmp_path / name))
    assert r.code == 2 and r.out == ""
    assert r.err.splitlines()[0] == (
        f"memstall: error: {tmp_path / name}: expected a name ending in .tar.gz, .tgz, "
        f".tar, .tar.xz or .tar.bz2, or a directory name without such a suffix"), r.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tiny tmpfs")
@pytest.mark.parametrize("name", ["s.tar", "dir"])
def test_a_full_disk_leaves_no_half_written_capture(tmp_path: Path, name: str) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)],
                       capture_output=True, check=False)
    if r.returncode:
        pytest.skip(f"cannot mount tmpfs: {r.stderr.decode().strip()}")
    try:
        # An existing tarball is refused up front (test_refuses_to_overwrite_an_existing_tarball);
        # an earlier capture beside the new one must survive the failed write.
        (mnt / "old.tar").write_bytes(b"old capture\n")
        res = run_cli("--root", str(IDLE), "snapshot", "-o", str(mnt / name))
        assert res.code == 3 and "No space left on device" in res.err
        assert "Traceback" not in res.err
        left = sorted(p.name for p in mnt.iterdir())
        assert left == ["old.tar"]  # no temporary left behind
        assert (mnt / "old.tar").read_bytes() == b"old capture\n"  # the old file is untouched
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.live
def test_snapshot_of_this_host_loads_back(tmp_path: Path) -> None:
    out = tmp_path / "live.tar.gz"
    r = run_cli("snapshot", "-o", str(out))
    assert r.code == 0, r.err
    manifest = json.loads(run_cli("--root", str(out), "snapshot", "-o", str(tmp_path / "d"),
                                  "--format", "json").out)["manifest"]
    assert manifest["kernel"] == Path("/proc/sys/kernel/osrelease").read_text().strip()
    assert manifest["page_size"] == os.sysconf("SC_PAGE_SIZE")
    assert manifest["arch"] == os.uname().machine
    assert manifest["clock_ticks_per_second"] == os.sysconf("SC_CLK_TCK")
    assert "proc/pagetypeinfo" in manifest["files"]  # root can read it
    for what in ("frag", "watermarks", "zones", "vmstat", "meminfo", "sysctl"):
        assert run_cli("--root", str(out), "show", what, "--format", "json").code == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux file permissions")
def test_pagetypeinfo_unreadable_as_non_root_is_recorded_not_fatal() -> None:
    from test_cli_errors import _run_as_nobody

    top = Path(tempfile.mkdtemp(prefix="memstall-nonroot-"))
    try:
        top.chmod(0o777)
        root = top / "root"
        shutil.copytree(IDLE, root)
        # 0400 root:root as on 5.6+ kernels (and 4.14.y, 5.3.y); a non-root owner needs 000.
        (root / "proc/pagetypeinfo").chmod(0o400 if os.geteuid() == 0 else 0)
        argv = ("--root", str(root), "snapshot", "-o", str(top / "out"))
        r = _run_as_nobody(*argv) if os.geteuid() == 0 else run_cli(*argv)
        assert r.code == 0, r.err
        manifest = json.loads((top / "out/MANIFEST.json").read_text())
        assert manifest["unavailable"]["proc/pagetypeinfo"] == "permission denied"
        assert "proc/pagetypeinfo" not in manifest["files"]
        assert "not captured: proc/pagetypeinfo: permission denied" in r.err
        shown = run_cli("--root", str(top / "out"), "show", "frag")
        assert shown.code == 0  # frag does not need pagetypeinfo
    finally:
        shutil.rmtree(top)


def test_both_producers_write_the_same_manifest_keys(tmp_path: Path) -> None:
    """`snapshot` and `logs --as-snapshot` share one builder (memstall.manifest)."""
    from test_kernlog_cli import SEED

    assert run_cli("--root", str(IDLE), "snapshot", "-o", str(tmp_path / "a")).code == 0
    assert run_cli("logs", str(SEED), "--as-snapshot", str(tmp_path / "b")).code == 0
    a = json.loads((tmp_path / "a/MANIFEST.json").read_text())
    b = json.loads((tmp_path / "b/MANIFEST.json").read_text())
    assert set(b) - set(a) == {"rebuilt_from_log"} and set(a) <= set(b)
    assert a["clock_ticks_per_second"] is None  # IDLE's own manifest predates the key
    assert b["clock_ticks_per_second"] is None  # a log does not say


def test_recapture_keeps_the_recorded_clock_ticks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root)
    manifest = json.loads((root / "MANIFEST.json").read_text())
    (root / "MANIFEST.json").write_text(json.dumps({**manifest, "clock_ticks_per_second": 1024}))
    assert run_cli("--root", str(root), "snapshot", "-o", str(tmp_path / "out")).code == 0
    again = json.loads((tmp_path / "out/MANIFEST.json").read_text())
    assert again["clock_ticks_per_second"] == 1024
    doc = json.loads(run_cli("--root", str(tmp_path / "out"), "show", "kthreads",
                             "--format", "json").out)
    busy = next(t for t in doc["threads"] if t["comm"] == "kcompactd0")
    assert doc["clock_ticks_per_second"] == 1024
    assert busy["utime_ticks"] == 3 and busy["cpu_seconds"] == 3 / 1024  # 0.03 s at 100
    text = run_cli("--root", str(tmp_path / "out"), "show", "kthreads").out
    assert "not recorded" not in text
    assert "Clock ticks per second not recorded in this capture: 100 assumed." in run_cli(
        "--root", str(IDLE), "show", "kthreads").out
