"""Tarballs from other people (issue 9, Snapshots): members that would replace or escape
the capture, a sosreport's sos_commands/ held in memory, an archive without a total budget."""

from __future__ import annotations

import io
import json
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from memstall import specs
from memstall.errors import SourceUnavailable
from memstall.sources import open_root, snapshot
from memstall.sources.sosreport import SosSource

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
SOS = FIXTURES / "sosreports" / "x86_64-6.18-hand-assembled" / "sosreport-host-2026-11-26-abcdef"
FAKE_BUDDYINFO = b"Node 0, zone   Normal" + b"      1" * 11 + b"\n"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)  # as given: tarfile.add() would strip a leading '/'
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _tar_of(src: Path, out: Path, top: str, extra: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(out, mode) as tar:  # type: ignore[call-overload]
        for path in sorted(src.rglob("*")):
            if path.is_file() and "expected" not in path.parts:
                _add(tar, f"{top}/{path.relative_to(src)}", path.read_bytes())
        for name, data in extra.items():
            _add(tar, name, data)
    return out


@pytest.mark.parametrize("hostile", ["/proc/buddyinfo", "memstall-snapshot-x/../proc/buddyinfo",
                                     "../proc/buddyinfo", "memstall-snapshot-x/proc/../../proc/buddyinfo"])
def test_a_member_that_would_replace_or_escape_the_capture_is_ignored_and_said(
        tmp_path: Path, hostile: str) -> None:
    tar = _tar_of(IDLE, tmp_path / "snap.tar.gz", "memstall-snapshot-x", {hostile: FAKE_BUDDYINFO})
    expected = run_cli("--root", str(IDLE), "--format", "json", "show", "buddyinfo")
    r = run_cli("--root", str(tar), "--format", "json", "show", "buddyinfo")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["zones"] == json.loads(expected.out)["zones"]  # the capture, not the member
    assert [n for n in doc["notes"] if n.startswith(f"ignored tarball member {hostile!r}: an absolute "
                                                     "path or '..' could replace or escape the capture")]
    t = run_cli("--root", str(tar), "show", "buddyinfo")
    assert f"ignored tarball member {hostile!r}" in t.err and t.code == 0


def test_many_hostile_members_make_one_note(tmp_path: Path) -> None:
    extra = {f"/proc/sys/vm/x{i}": b"1\n" for i in range(40)}
    tar = _tar_of(IDLE, tmp_path / "snap.tar.gz", "memstall-snapshot-x", extra)
    notes = [n for n in open_root(str(tar)).notes() if "ignored tarball member" in n]
    assert len(notes) == 1 and "and 35 more" in notes[0], notes


def test_sosreport_tarball_keeps_only_what_is_read(tmp_path: Path) -> None:
    junk = b"\0" * (8 * 1024 * 1024)  # compresses to almost nothing, costs 8 MiB each if kept
    extra = {f"{SOS.name}/sos_commands/block/junk{i}": junk for i in range(6)}
    extra[f"{SOS.name}/sos_commands/process/lsof_M_-n_-l"] = junk  # ps_auxwww is read (kthread CPU)
    tar = _tar_of(SOS, tmp_path / f"{SOS.name}.tar.gz", SOS.name, extra)
    tracemalloc.start()
    try:
        src = open_root(str(tar))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(src, SosSource)
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while reading"
    assert src.exists("sos_commands") and src.exists(specs.SOS_SYSCTL_A)
    a = run_cli("--root", str(tar), "--format", "json", "show", "sysctl")
    b = run_cli("--root", str(SOS), "--format", "json", "show", "sysctl")
    assert (a.code, a.out, a.err) == (b.code, b.out, b.err)


def test_an_archive_has_a_total_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "MAX_ARCHIVE_BYTES", 1024 * 1024)
    part = b"x" * (400 * 1024)  # each under the per-file limit; together over the archive's
    extra = {f"memstall-snapshot-x/log/part{i}.txt": part for i in range(3)}
    tar = _tar_of(IDLE, tmp_path / "snap.tar.gz", "memstall-snapshot-x", extra)
    with pytest.raises(SourceUnavailable, match="more than 1 MiB"):
        open_root(str(tar))
    r = run_cli("--root", str(tar), "show", "buddyinfo")
    assert r.code == 3 and len(r.err.strip().split("\n")) <= 2 and "internal error" not in r.err, r.err
    assert r.err.startswith(f"memstall: error: {tar}: the files memstall reads in this archive add up to "
                            "more than 1 MiB"), r.err


def test_the_default_budget_takes_the_fixtures(tmp_path: Path) -> None:
    tar = _tar_of(SOS, tmp_path / "s.tar.xz", SOS.name, {}, mode="w:xz")
    assert isinstance(open_root(str(tar)), SosSource)
    assert snapshot.MAX_ARCHIVE_BYTES >= 4 * snapshot.MAX_FILE_BYTES


def test_a_sosreport_tarball_reads_what_its_directory_gives(tmp_path: Path) -> None:
    """The tarball filter keeps the fallback files too (ps_auxwww for kswapd CPU, uname -a and
    proc/version for the release): a real sosreport tree read packed and unpacked agrees."""
    import tarfile

    from conftest import SHARED
    from memstall.collect import load_state
    from memstall.sources import open_root

    tree = SHARED / "real-roots" / "sos-rhel8-4.18"
    if not tree.is_dir():
        pytest.fail(f"{tree} is missing: the tests read ../shared (CI has it)")
    tarball = tmp_path / "sosreport-host-2019.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tree, arcname="sosreport-host-2019")
    packed, unpacked = (load_state(open_root(str(p)), needs=()) for p in (tarball, tree))
    assert packed.kernel_release == unpacked.kernel_release is not None
    assert packed.kthreads_ps == unpacked.kthreads_ps
    assert packed.kthreads_ps, "this sosreport's ps output lists kswapd"
