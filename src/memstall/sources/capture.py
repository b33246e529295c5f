"""`memstall snapshot`: copy exactly the registry's files (collect/registry.py), plus a MANIFEST.json.

Layout of a capture (a directory, or the same tree in a tarball under one top-level
directory named after the file)::

    MANIFEST.json                      format "memstall.snapshot/1" (docs/json.md)
    proc/buddyinfo proc/zoneinfo ...   sample 0: every file of the registry, as read
    sys/kernel/debug/extfrag/*         only when debugfs is mounted and readable
    samples/1/proc/vmstat ...          with --samples N: the sampled files again, k = 1..N-1

Writing is atomic: everything goes to a temporary file (or directory) in the target's
own directory, is fsync'ed, then renamed into place; on any error the temporary is
removed, so a half-written capture never exists under the requested name. Tarballs are
created with mode 0600 (mkstemp), because they may hold a hostname.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from memstall import specs
from memstall.durable import fsync_dir, replacing
from memstall.errors import InputError, SourceUnavailable, UsageError
from memstall.manifest import build_manifest, dump_manifest
from memstall.sources.base import Source
from memstall.sources.expand import discover_kthreads, expand, is_dir_pattern, is_pid_pattern

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
    clock_ticks_per_second: int | None = None
    """USER_HZ, os.sysconf("SC_CLK_TCK") on the captured host."""


def tar_mode(path: str) -> str | None:
    """The tarfile write mode for a tarball name, or None for a directory target."""
    for suffix, mode in TAR_SUFFIXES.items():
        if path.endswith(suffix):
            return mode
    return None


def _take_all(cap: Capture, source: Source, patterns: Sequence[str], kthread_dirs: Sequence[str],
              prefix: str = "") -> None:
    """Copy what `patterns` stand for; in a sample (prefix samples/<k>/) only what exists."""
    for pattern in patterns:
        rels = expand(source, pattern, kthread_dirs)
        if not rels and is_dir_pattern(pattern) and not prefix:
            cap.unavailable[pattern[:-2]] = "no such directory"
        for rel in rels:
            if not prefix or is_pid_pattern(pattern) or source.exists(rel):
                cap.take(source, rel, prefix + rel)


def _debugfs_denied() -> str:
    """Why the debugfs files are missing when /sys/kernel/debug cannot be entered."""
    uid = os.geteuid()
    if uid != 0:
        return f"permission denied: debugfs is root's (mode 0700) and memstall snapshot ran as uid {uid}"
    return "permission denied (even to root: a locked-down kernel or a security module)"


def _take_debugfs(cap: Capture, source: Source, paths: Sequence[str]) -> bool | None:
    """Copy the debugfs extfrag files between two buddyinfo reads; did buddyinfo agree?"""
    if not paths:
        return None
    try:
        present = any(source.exists(rel) for rel in paths)
    except PermissionError:  # /sys/kernel/debug is 0700 root: a user's capture goes on without it
        for rel in paths:
            cap.unavailable[rel] = _debugfs_denied()
        return None
    if not present:
        for rel in paths:
            cap.unavailable[rel] = "debugfs not mounted (or no CONFIG_COMPACTION)"
        return None
    before = source.read_text(specs.BUDDYINFO) if source.exists(specs.BUDDYINFO) else None
    for rel in paths:
        cap.take(source, rel)
    after = cap.take(source, specs.BUDDYINFO)
    if before is None or after is None:
        return None
    return before.encode() == after


def capture(source: Source, paths: Sequence[str], sampled: Sequence[str], samples: int = 1,
            interval_s: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> Capture:
    """Copy `paths` (the file registry's patterns, in its order) from `source`; with
    samples > 1, the `sampled` ones again under samples/<k>/.

    debugfs files are copied last, between two reads of buddyinfo. The kswapd/kcompactd
    pids are found once, in sample 0.
    """
    cap = Capture()
    debugfs = [p for p in paths if p.startswith(specs.DEBUGFS_DIR + "/")]
    kthread_dirs = [d for d, _ in discover_kthreads(source)]
    _take_all(cap, source, [p for p in paths if p not in debugfs], kthread_dirs)
    cap.extfrag_buddyinfo_stable = _take_debugfs(cap, source, debugfs)
    for k in range(1, samples):
        sleep(interval_s)
        _take_all(cap, source, [p for p in sampled if p not in debugfs], kthread_dirs,
                  prefix=f"{specs.SAMPLES_DIR}/{k}/")
    return cap


def numa_nodes(cap: Capture) -> int | None:
    nodes = {rel.split("/")[4] for rel in cap.files if rel.startswith(specs.NODE_DIR + "/")}
    nodes = {n for n in nodes if _NODE.match(n)}
    if nodes:
        return len(nodes)
    zoneinfo = cap.files.get(specs.ZONEINFO, b"").decode(errors="replace")
    found = set(re.findall(r"^Node\s+(\d+),", zoneinfo, re.MULTILINE))
    return len(found) or None


def capture_manifest(cap: Capture, host: HostInfo, captured_utc: str, samples: int,
                     interval_s: float, shows: str = "") -> dict[str, Any]:
    """The MANIFEST of a `memstall snapshot` capture (memstall.manifest.build_manifest)."""
    release = cap.files.get(specs.OSRELEASE, b"").decode(errors="replace").strip() or None
    return build_manifest(
        source=f"memstall snapshot {host.version}", kernel=release, arch=host.arch,
        page_size=host.page_size, clock_ticks_per_second=host.clock_ticks_per_second,
        numa_nodes=numa_nodes(cap), captured=captured_utc, hostname=host.hostname,
        shows=shows, samples=samples, interval_seconds=interval_s,
        extfrag_buddyinfo_stable=cap.extfrag_buddyinfo_stable, files=cap.files,
        unavailable=cap.unavailable)


def _entries(cap: Capture, manifest: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [(specs.MANIFEST, dump_manifest(manifest)), *sorted(cap.files.items())]


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
