"""`memstall snapshot`: copy exactly the files in specs.py, plus a MANIFEST.json.

Layout of a capture (a directory, or the same tree in a tarball under one top-level
directory named after the file)::

    MANIFEST.json                      format "memstall.snapshot/1" (docs/json.md)
    proc/buddyinfo proc/zoneinfo ...   sample 0: every file of specs.py, as read
    sys/kernel/debug/extfrag/*         only when debugfs is mounted and readable
    samples/1/proc/vmstat ...          with --samples N: specs.SAMPLED_* again, k = 1..N-1

Writing is atomic: everything goes to a temporary file (or directory) in the target's
own directory, is fsync'ed, then renamed into place; on any error the temporary is
removed, so a half-written capture never exists under the requested name. Tarballs are
created with mode 0600 (mkstemp), because they may hold a hostname.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from memstall.durable import fsync_dir, replacing
from memstall.errors import InputError, SourceUnavailable, UsageError
from memstall.sources import specs
from memstall.sources.base import Source

SNAPSHOT_FORMAT = "memstall.snapshot/1"
TAR_SUFFIXES = {".tar": "w", ".tar.gz": "w:gz", ".tgz": "w:gz", ".tar.xz": "w:xz",
                ".tar.bz2": "w:bz2"}
_NODE = re.compile(r"^node\d+$")
# Archive names we cannot write (zip, zstd, a lone .gz...): refused rather than made a directory.
_ARCHIVE_LIKE = re.compile(r"\.(zip|gz|xz|bz2|zst|zstd|7z|lz4|lzma|tbz2?|txz|rar)$|\.tar\.[^.]+$",
                           re.IGNORECASE)


@dataclass
class Capture:
    """Files read from one root: relative path -> bytes, plus what could not be read."""

    files: dict[str, bytes] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    extfrag_buddyinfo_stable: bool | None = None
    """Did buddyinfo read the same before and after the debugfs files (None: no debugfs)."""

    def take(self, source: Source, rel: str, dest: str | None = None) -> bytes | None:
        try:
            data = source.read_text(rel).encode("utf-8", errors="surrogateescape")
        except SourceUnavailable as err:
            self.unavailable[dest or rel] = err.reason
            return None
        self.files[dest or rel] = data
        return data


@dataclass(frozen=True)
class HostInfo:
    """What the manifest says about the machine; the CLI fills it from os.uname()."""

    arch: str | None
    page_size: int | None
    hostname: str | None
    version: str


def tar_mode(path: str) -> str | None:
    """The tarfile write mode for a tarball name, or None for a directory target."""
    for suffix, mode in TAR_SUFFIXES.items():
        if path.endswith(suffix):
            return mode
    return None


def _kthread_dirs(source: Source) -> list[str]:
    out = []
    for rel in source.glob("proc/[0-9]*/comm"):
        try:
            comm = source.read_text(rel).strip()
        except SourceUnavailable:
            continue  # the task exited between listing and reading
        if comm.startswith(specs.KTHREAD_COMM_PREFIXES):
            out.append(rel[: -len("/comm")])
    return out


def _sysctl_names(source: Source) -> list[str]:
    return [n for n in source.list_dir(specs.SYSCTL_VM_DIR)
            if n not in specs.SYSCTL_VM_WRITE_ONLY]


def _take_sampled(cap: Capture, source: Source, prefix: str, kthreads: Iterable[str]) -> None:
    for rel in specs.SAMPLED_FILES:
        if source.exists(rel):
            cap.take(source, rel, prefix + rel)
    for pattern in specs.SAMPLED_GLOBS:
        for rel in source.glob(pattern):
            cap.take(source, rel, prefix + rel)
    for d in kthreads:
        for name in specs.KTHREAD_FILES:
            cap.take(source, f"{d}/{name}", f"{prefix}{d}/{name}")


def _take_debugfs(cap: Capture, source: Source) -> bool | None:
    """Copy the debugfs extfrag files between two buddyinfo reads; did buddyinfo agree?"""
    if not any(source.exists(rel) for rel in specs.DEBUGFS_FILES):
        for rel in specs.DEBUGFS_FILES:
            cap.unavailable[rel] = "debugfs not mounted (or no CONFIG_COMPACTION)"
        return None
    before = source.read_text(specs.BUDDYINFO) if source.exists(specs.BUDDYINFO) else None
    for rel in specs.DEBUGFS_FILES:
        cap.take(source, rel)
    after = cap.take(source, specs.BUDDYINFO)
    if before is None or after is None:
        return None
    return before.encode() == after


def capture(source: Source, samples: int = 1, interval_s: float = 1.0,
            sleep: Callable[[float], None] = time.sleep) -> Capture:
    """Read every spec path from `source`; with samples > 1, the sampled files again."""
    cap = Capture()
    for rel in specs.SNAPSHOT_FILES:
        cap.take(source, rel)
    names = _sysctl_names(source)
    if not names:
        cap.unavailable[specs.SYSCTL_VM_DIR] = "no such directory"
    for name in names:
        cap.take(source, f"{specs.SYSCTL_VM_DIR}/{name}")
    for pattern in specs.SNAPSHOT_GLOBS:
        for rel in source.glob(pattern):
            cap.take(source, rel)
    kthreads = _kthread_dirs(source)
    for d in kthreads:
        for name in specs.KTHREAD_FILES:
            cap.take(source, f"{d}/{name}")
    cap.extfrag_buddyinfo_stable = _take_debugfs(cap, source)
    for k in range(1, samples):
        sleep(interval_s)
        _take_sampled(cap, source, f"{specs.SAMPLES_DIR}/{k}/", kthreads)
    return cap


def _numa_nodes(cap: Capture) -> int | None:
    nodes = {rel.split("/")[4] for rel in cap.files if rel.startswith(specs.NODE_DIR + "/")}
    nodes = {n for n in nodes if _NODE.match(n)}
    if nodes:
        return len(nodes)
    zoneinfo = cap.files.get(specs.ZONEINFO, b"").decode(errors="replace")
    found = set(re.findall(r"^Node\s+(\d+),", zoneinfo, re.MULTILINE))
    return len(found) or None


def build_manifest(cap: Capture, host: HostInfo, captured_utc: str, samples: int,
                   interval_s: float, shows: str = "") -> dict[str, Any]:
    release = cap.files.get(specs.OSRELEASE, b"").decode(errors="replace").strip() or None
    return {
        "format": SNAPSHOT_FORMAT,
        "kernel": release,
        "arch": host.arch,
        "page_size": host.page_size,
        "numa_nodes": _numa_nodes(cap),
        "captured": captured_utc,
        "source": f"memstall snapshot {host.version}",
        "hostname": host.hostname,
        "edited": [],
        "shows": shows,
        "samples": samples,
        "interval_seconds": interval_s if samples > 1 else None,
        "extfrag_buddyinfo_stable": cap.extfrag_buddyinfo_stable,
        "files": sorted(cap.files),
        "unavailable": dict(sorted(cap.unavailable.items())),
    }


def _entries(cap: Capture, manifest: dict[str, Any]) -> list[tuple[str, bytes]]:
    body = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    return [(specs.MANIFEST, body), *sorted(cap.files.items())]


def _write_tar(entries: list[tuple[str, bytes]], target: Path, mode: str, mtime: float) -> None:
    top = target.name
    for suffix in TAR_SUFFIXES:
        if top.endswith(suffix):
            top = top[: -len(suffix)]
            break
    with replacing(target) as raw, tarfile.open(fileobj=raw, mode=mode) as tar:  # type: ignore[call-overload]
        for rel, data in entries:
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(mtime)
            tar.addfile(info, io.BytesIO(data))


def _write_dir(entries: list[tuple[str, bytes]], target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"{target}: already exists and is not an empty directory",
                         hint="choose a new name; end it in .tar.gz for a tarball")
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        for rel, data in entries:
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        tmp.chmod(0o755)
        if target.exists():
            target.rmdir()
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(target.parent)


def check_target(target: str) -> None:
    """Refuse a target before anything is read: no parent directory, a name of an archive
    format we do not write (it would become a directory called s.zip), or an existing
    tarball (a second `-o before.tar.gz` must not lose the first capture). A directory
    target is checked when written: it may exist if it is empty."""
    path = Path(target)
    if tar_mode(target) is None and _ARCHIVE_LIKE.search(path.name):
        raise UsageError(f"{target}: expected a name ending in .tar.gz, .tgz, .tar, .tar.xz or "
                         ".tar.bz2, or a directory name without such a suffix")
    if not path.parent.is_dir():
        raise SourceUnavailable(str(path.parent), "no such directory",
                                hint="the directory of -o must exist")
    if tar_mode(target) is not None and (path.exists() or path.is_symlink()):
        raise InputError(f"{target}: already exists", hint="choose a new name or remove it first")


def write_capture(cap: Capture, manifest: dict[str, Any], target: str, mtime: float) -> None:
    """Write MANIFEST.json and the files to `target` (tarball by suffix, else directory)."""
    path = Path(target)
    check_target(target)
    entries = _entries(cap, manifest)
    mode = tar_mode(target)
    try:
        if mode is None:
            _write_dir(entries, path)
        else:
            _write_tar(entries, path, mode, mtime)
    except OSError as err:
        raise SourceUnavailable(target, f"cannot write: {err.strerror or err}") from None


def check_samples(samples: int, interval_s: float) -> None:
    if samples < 1:
        raise UsageError("--samples must be at least 1")
    if interval_s < 0:
        raise UsageError("--interval must not be negative")
