"""--root on '/', a directory, snapshot tarballs, sosreport directories and tarballs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, run_cli
from memstall import specs
from memstall.cli.show import VIEWS
from memstall.collect import load_state
from memstall.collect.registry import sample_paths
from memstall.errors import SourceUnavailable
from memstall.sources import open_root
from memstall.sources._paths import MAX_FILE_BYTES, clean_rel
from memstall.sources.live import DirSource, keepable
from memstall.sources.snapshot import SampleView, TarSource
from memstall.sources.sosreport import SosSource

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
SOS_FIXTURE = FIXTURES / "sosreports" / "x86_64-6.18-hand-assembled"
SOS = SOS_FIXTURE / "sosreport-host-2026-11-26-abcdef"


def _tar(src: Path, out: Path, mode: str, top: str | None) -> Path:
    with tarfile.open(out, mode) as tar:  # type: ignore[call-overload]
        for path in sorted(src.rglob("*")):
            if path.is_file():
                rel = str(path.relative_to(src))
                tar.add(path, arcname=f"{top}/{rel}" if top else rel)
    return out


@pytest.mark.parametrize(("suffix", "mode", "top"), [
    (".tar", "w", None), (".tar.gz", "w:gz", "memstall-snapshot-x"), (".tar.xz", "w:xz", "x")])
def test_tarball_reads_like_the_directory(tmp_path: Path, suffix: str, mode: str,
                                          top: str | None) -> None:
    tar = _tar(IDLE, tmp_path / f"snap{suffix}", mode, top)
    assert isinstance(open_root(str(tar)), TarSource)
    for what in VIEWS:
        a = run_cli("--root", str(tar), "show", what, "--format", "json")
        b = run_cli("--root", str(IDLE), "show", what, "--format", "json")
        assert (a.code, a.out) == (b.code, b.out), what


def test_sosreport_directory_reads_sysctls_from_sysctl_a() -> None:
    src = open_root(str(SOS))
    assert isinstance(src, SosSource)
    state = load_state(src)
    assert state.sysctl_vm is not None
    assert state.sysctl_vm.text("lowmem_reserve_ratio") == "256\t256\t32\t0\t0"
    assert state.kernel_release == "6.18.44-fc-v595"
    # min_free_kbytes and watermark_scale_factor came from sysctl -a; the formula must
    # then reproduce every zone of the sosreport's own zoneinfo.
    doc = json.loads(run_cli("--root", str(SOS), "show", "watermarks", "--format", "json").out)
    assert doc["sysctl"]["min_free_kbytes"] == state.sysctl_vm.int_value("min_free_kbytes")
    assert all(z["computed_matches"] for z in doc["zones"])


def test_sosreport_says_what_it_lacks(tmp_path: Path) -> None:
    r = run_cli("--root", str(SOS), "show", "frag")
    assert r.code == 0
    notes = [line for line in r.err.splitlines() if line.startswith("memstall: note: ")]
    joined = "\n".join(notes)
    assert f"vm sysctls read from {specs.SOS_SYSCTL_A}" in joined
    assert "proc/uptime" in joined and "per-node vmstat and meminfo" in joined
    assert "page size not recorded" in joined
    doc = json.loads(run_cli("--root", str(SOS), "show", "frag", "--format", "json").out)
    assert doc["notes"] == [n[len("memstall: note: "):] for n in notes]


@pytest.mark.parametrize(("suffix", "mode"), [(".tar.xz", "w:xz"), (".tar.gz", "w:gz")])
def test_sosreport_tarball(tmp_path: Path, suffix: str, mode: str) -> None:
    tar = _tar(SOS, tmp_path / f"{SOS.name}{suffix}", mode, SOS.name)
    src = open_root(str(tar))
    assert isinstance(src, SosSource)
    for what in VIEWS:
        a = run_cli("--root", str(tar), "show", what, "--format", "json")
        b = run_cli("--root", str(SOS), "show", what, "--format", "json")
        assert (a.code, a.out, a.err) == (b.code, b.out, b.err), what


def test_sosreport_without_sysctl_a(tmp_path: Path) -> None:
    root = tmp_path / SOS.name
    shutil.copytree(SOS, root)
    (root / specs.SOS_SYSCTL_A).unlink()
    r = run_cli("--root", str(root), "show", "sysctl")
    assert r.code == 3 and r.err.startswith("memstall: error: proc/sys/vm: no such directory\n")
    assert "sysctl -a" in r.err.splitlines()[1]
    r = run_cli("--root", str(root), "show", "frag")
    assert "neither proc/sys/vm nor sysctl -a" in r.err
    # watermarks still shows the kernel's numbers, without memstall's computation
    doc = json.loads(run_cli("--root", str(root), "show", "watermarks", "--format", "json").out)
    assert all(z["computed"] is None for z in doc["zones"])


def test_live_root_is_marked_live() -> None:
    assert DirSource("/").is_live
    assert not DirSource(str(IDLE)).is_live
    assert open_root(str(IDLE)).label == str(IDLE)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_live_reads_through_a_kept_descriptor_see_the_kernel_afresh() -> None:
    src = DirSource("/")
    before = _open_fds()
    first = src.read_text("proc/uptime")  # opened, read, closed
    assert _open_fds() == before
    texts = [first] + [src.read_text("proc/uptime") for _ in range(3)]  # the second keeps it open
    assert _open_fds() == before + 1
    assert all(len(t.split()) == 2 for t in texts)
    time.sleep(0.02)
    later = src.read_text("proc/uptime")
    assert float(later.split()[0]) > float(first.split()[0])  # printed again at offset 0
    # a file longer than one seq_file buffer comes whole, as a fresh open reads it
    for _ in range(2):
        kept = src.read_text("proc/self/mountinfo")
    fresh = Path("/proc/self/mountinfo").read_text()
    assert kept.endswith("\n") and len(kept.splitlines()) == len(fresh.splitlines())
    src.close()
    assert _open_fds() == before


def test_no_descriptor_is_kept_in_debugfs_or_tracefs() -> None:
    """A kept descriptor there would make `umount /sys/kernel/debug` fail (EBUSY) while an
    exporter or top runs; the live test that mounts debugfs for extfrag unmounts it after."""
    assert keepable("proc/zoneinfo") and keepable("sys/devices/system/node/node0/meminfo")
    assert not keepable("sys/kernel/debug/extfrag/extfrag_index")
    assert not keepable("sys/kernel/tracing/instances/memstall-1/trace")
    assert not keepable("etc/sysctl.conf")


def test_a_kept_descriptor_of_an_exited_task_reopens_once_then_is_unavailable() -> None:
    src = DirSource("/")
    child = subprocess.Popen(["sleep", "30"])  # a task of our own to end
    rel = f"proc/{child.pid}/stat"
    before = _open_fds()
    try:
        for _ in range(2):
            assert src.read_text(rel).startswith(f"{child.pid} (sleep)")
        assert _open_fds() == before + 1
    finally:
        child.kill()
        child.wait()
    with pytest.raises(SourceUnavailable, match="no such file"):
        src.read_text(rel)
    assert _open_fds() == before  # the stale descriptor closed, none opened


def test_live_directory_read_twice_is_refused_both_times() -> None:
    src = DirSource("/")
    for _ in range(2):
        with pytest.raises(SourceUnavailable, match="is a directory"):
            src.read_text("proc/sys")


def test_paths_cannot_escape_the_root() -> None:
    assert clean_rel("/proc/./vmstat") == "proc/vmstat"
    for bad in ("../etc/passwd", "proc/../../x"):
        with pytest.raises(ValueError, match="escapes the root"):
            clean_rel(bad)


def test_tar_members_escaping_the_root_are_ignored(tmp_path: Path) -> None:
    out = tmp_path / "evil.tar"
    with tarfile.open(out, "w") as tar:
        tar.add(IDLE / "proc/buddyinfo", arcname="proc/buddyinfo")
        tar.add(IDLE / "proc/vmstat", arcname="../proc/vmstat")
    src = open_root(str(out))
    assert src.exists("proc/buddyinfo") and not src.exists("proc/vmstat")


def test_sample_view_maps_only_changing_files() -> None:
    view = SampleView(DirSource(str(IDLE)), 1, sampled=sample_paths())
    assert view.read_text("proc/vmstat") == (IDLE / "samples/1/proc/vmstat").read_text()
    assert view.read_text("proc/sys/vm/min_free_kbytes") == (
        IDLE / "proc/sys/vm/min_free_kbytes").read_text()
    assert view.glob("proc/[0-9]*/stat") == sorted(
        str(p.relative_to(IDLE / "samples/1")) for p in (IDLE / "samples/1/proc").glob("*/stat"))
    assert view.glob(specs.NODE_VMSTAT) == [
        "sys/devices/system/node/node0/vmstat"]
    s1 = load_state(DirSource(str(IDLE)), sample=1)
    s0 = load_state(DirSource(str(IDLE)))
    assert s1.uptime_seconds is not None and s0.uptime_seconds is not None
    assert s1.uptime_seconds > s0.uptime_seconds
    assert s1.sysctl_vm == s0.sysctl_vm


_NAME = st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True)
_VALUE = st.from_regex(r"[0-9]{1,12}(\t[0-9]{1,6}){0,4}", fullmatch=True)


@given(st.dictionaries(_NAME, _VALUE, min_size=1, max_size=20), st.lists(st.text(), max_size=5))
def test_sysctl_a_round_trip(values: dict[str, str], noise: list[str]) -> None:
    """Every `vm.<name> = <value>` line of sysctl -a reads back as proc/sys/vm/<name>."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "sosreport-h-1"
        (root / "sos_commands/kernel").mkdir(parents=True)
        lines = [f"vm.{k} = {v}" for k, v in values.items()]
        lines += [n.replace("vm.", "xx") for n in noise]  # other lines, never vm.*
        (root / specs.SOS_SYSCTL_A).write_text("\n".join(lines) + "\n")
        src = open_root(str(root))
        assert sorted(src.list_dir(specs.SYSCTL_VM_DIR)) == sorted(values)
        for k, v in values.items():
            assert src.read_text(f"{specs.SYSCTL_VM_DIR}/{k}") == v + "\n"


@given(st.binary(max_size=2048))
@settings(max_examples=200)
def test_any_bytes_as_a_tarball_read_or_fail_cleanly(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.tar.gz"
        path.write_bytes(data)
        try:
            src = open_root(str(path))
        except SourceUnavailable as err:
            assert "\n" not in err.message
        else:
            assert isinstance(src, (TarSource, SosSource))


def test_a_capture_directory_never_reads_outside_itself(tmp_path: Path) -> None:
    # A capture or sosreport unpacked from elsewhere may hold absolute symlinks: following
    # them would read this machine's files (or /dev/zero, until memory runs out).
    root = tmp_path / "root"
    shutil.copytree(IDLE, root)
    (root / "proc/vmstat").unlink()
    (root / "proc/vmstat").symlink_to("/etc/hostname")
    (root / "proc/meminfo").unlink()
    (root / "proc/meminfo").symlink_to("/dev/zero")
    (root / "proc/uptime").rename(root / "proc/uptime.orig")
    (root / "proc/uptime").symlink_to("../proc/uptime.orig")  # inside the capture: still read
    os.mkfifo(root / "proc/zoneinfo.fifo")
    src = open_root(str(root))
    for rel in ("proc/vmstat", "proc/meminfo"):
        with pytest.raises(SourceUnavailable, match="a symbolic link out of the capture"):
            src.read_text(rel)
    assert src.read_text("proc/uptime") == (root / "proc/uptime.orig").read_text()
    with pytest.raises(SourceUnavailable, match="not a regular file"):
        src.read_text("proc/zoneinfo.fifo")  # opening a FIFO would block forever
    r = run_cli("--root", str(root), "show", "meminfo")
    assert r.code == 3 and r.err.startswith("memstall: error: proc/meminfo: a symbolic link out of")


def test_an_oversized_file_is_refused_not_read_into_memory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root)
    with open(root / "proc/vmstat", "r+b") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(SourceUnavailable, match="larger than 64 MiB"):
        open_root(str(root)).read_text("proc/vmstat")
    tar = tmp_path / "big.tar"
    with tarfile.open(tar, "w") as t:
        t.add(root / "proc/buddyinfo", arcname="proc/buddyinfo")
        t.add(root / "proc/vmstat", arcname="proc/vmstat")
    with pytest.raises(SourceUnavailable, match="larger than 64 MiB"):
        open_root(str(tar)).read_text("proc/vmstat")


def test_a_capture_read_cannot_be_redirected_by_a_link_swapped_in(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The old read checked the path (realpath, stat) and then opened it again by name, so a
    link swapped in between was followed out of the capture (issue 9 security 5). Simulated
    deterministically: the file becomes a link to outside right after any realpath() of it.
    The read must return the capture's bytes or refuse, never the outside file."""
    from memstall.sources.live import DirSource

    root = tmp_path / "root"
    shutil.copytree(IDLE, root)
    secret = tmp_path / "secret"
    secret.write_text("outside the capture\n")
    vmstat = root / "proc/vmstat"
    real_realpath = os.path.realpath

    def swap_after_check(path: str, *args: object, **kwargs: object) -> str:
        result = real_realpath(path, *args, **kwargs)  # type: ignore[arg-type]
        if str(path) == str(vmstat) and not vmstat.is_symlink():
            vmstat.unlink()
            vmstat.symlink_to(secret)
        return result

    src = DirSource(str(root))
    monkeypatch.setattr(os.path, "realpath", swap_after_check)
    try:
        text = src.read_text("proc/vmstat")
    except SourceUnavailable as err:
        text = str(err)
    monkeypatch.undo()
    assert "outside the capture" not in text
    if not vmstat.is_symlink():  # the race was closed before it could start: make the link now
        vmstat.unlink()
        vmstat.symlink_to(secret)
    with pytest.raises(SourceUnavailable, match="out of the capture"):
        src.read_text("proc/vmstat")
    # A directory component that is a link to outside: refused, not followed.
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "meminfo").write_text("MemTotal: 1 kB\n")
    shutil.rmtree(root / "sys")
    (root / "sys").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SourceUnavailable, match="out of the capture"):
        src.read_text("sys/meminfo")
