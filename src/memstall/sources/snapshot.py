"""Tarball sources: `memstall snapshot` output and sosreport tarballs.

The tarball is read once, sequentially, keeping only the members memstall reads, so a
multi-GB sosreport costs one pass and little memory: of a sosreport's sos_commands/ only
`sysctl -a` is kept, and the names of the sos marker directories. What is kept
has a total budget as well as the per-file one. A single top-level directory
(`sosreport-host-2024.../`, `memstall-snapshot-.../`) is stripped.

A member named with an absolute path (`/proc/buddyinfo`) or a `..` component would, once
normalised, replace a file of the capture (and, at the top level, make the whole
prefixed capture invisible) or point outside it: it is ignored, and `notes()` says so.
"""

from __future__ import annotations

import fnmatch
import io
import lzma
import posixpath
import re
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from memstall import specs
from memstall.errors import SourceUnavailable
from memstall.sources._paths import MAX_FILE_BYTES, TOO_LARGE, clean_rel, glob_over
from memstall.sources.base import Source

# Files of a root that memstall may read: the spec paths and their directories' files.
_WANTED = (
    "MANIFEST.json",
    "proc/buddyinfo", "proc/zoneinfo", "proc/pagetypeinfo", "proc/vmstat", "proc/meminfo",
    "proc/slabinfo", "sys/kernel/mm/hugepages/*/*",
    "proc/uptime", "proc/pressure/*", "proc/sys/vm/*", "proc/sys/kernel/osrelease",
    "proc/[0-9]*/stat", "proc/[0-9]*/comm",
    "sys/kernel/mm/transparent_hugepage/*", "sys/kernel/mm/transparent_hugepage/khugepaged/*",
    "sys/devices/system/node/*", "sys/devices/system/node/node*/*",
    "sys/kernel/debug/extfrag/*", "log/*",
    specs.SOS_SYSCTL_A, "uname", "hostname",  # of sos_commands/, only what memstall reads
    specs.SOS_PS, specs.SOS_UNAME_A, specs.PROC_VERSION,  # collect/fallbacks.py: kthread CPU, release
    # boot configuration, for `tune plan --persist` and `tune export` on a capture
    "etc/sysctl.conf", "etc/sysctl.d/*", "run/sysctl.d/*", "usr/local/lib/sysctl.d/*",
    "usr/lib/sysctl.d/*", "lib/sysctl.d/*", "etc/tuned/active_profile",
)


_SAMPLE_PREFIX = re.compile(r"^samples/\d+/")


def _wanted(rel: str) -> bool:
    rel = _SAMPLE_PREFIX.sub("", rel, count=1)
    return any(fnmatch.fnmatchcase(rel, pat) for pat in _WANTED)


def _streamed(rel: str) -> bool:
    """A kernel log (specs.ROOT_KERNEL_LOGS): its member is remembered, its bytes are not kept."""
    return any(fnmatch.fnmatchcase(rel, pat) for pat in specs.ROOT_KERNEL_LOGS)


def _check_end(tar: tarfile.TarFile) -> None:
    """tarfile stops quietly at a header cut short; a whole archive ends in a zero block."""
    fileobj = tar.fileobj
    fileobj.seek(tar.offset)
    block = fileobj.read(tarfile.BLOCKSIZE)
    if len(block) < tarfile.BLOCKSIZE or block.count(0) != tarfile.BLOCKSIZE:
        raise tarfile.ReadError("unexpected end of data")


def _tar_error(err: BaseException) -> str:
    """One line for a tarball that cannot be read (tarfile's own text spans lines)."""
    text = str(err)
    if isinstance(err, (EOFError, zlib.error, lzma.LZMAError)) or "unexpected end" in text:
        return "truncated or corrupt tarball"
    if "empty file" in text:
        return "empty file"
    if isinstance(err, tarfile.ReadError):
        return "not a tar archive (.tar, .tar.gz, .tar.xz or .tar.bz2)"
    return " ".join(text.split()) or type(err).__name__


MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
"""Total of the members kept from one archive (each also costs a 512-byte header), on top
of MAX_FILE_BYTES per file: a capture memstall made or a sosreport keeps a few MiB."""
_SHOWN_IGNORED = 5


def _hostile(name: str) -> bool:
    """An absolute member name or one with a '..' component (see the module docstring)."""
    return name.startswith("/") or ".." in name.split("/")


@dataclass
class _Loaded:
    files: dict[str, bytes | None] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    """sos marker directories (sos_commands/...) at the first two levels: found, not kept."""
    ignored: list[str] = field(default_factory=list)
    kept_bytes: int = 0
    streams: dict[str, tarfile.TarInfo] = field(default_factory=dict)
    """Kernel logs: read later from the archive as streams (`TarSource.open_stream`)."""


def _take(tar: tarfile.TarFile, member: tarfile.TarInfo, loaded: _Loaded, path: str) -> None:
    """Keep `member` in `loaded` if memstall reads it; note it if its name is hostile."""
    if _hostile(member.name):
        loaded.ignored.append(member.name)
        return
    name = clean_rel(member.name)
    parts = name.split("/")
    last = len(parts) if member.isdir() else len(parts) - 1  # directory levels in the name
    loaded.dirs.update("/".join(parts[:i]) for i in (1, 2) if i <= last and parts[i - 1] in specs.SOS_MARKERS)
    stripped = name.split("/", 1)[1] if "/" in name else name
    if member.isfile() and (_streamed(name) or _streamed(stripped)):
        loaded.streams[name] = member
        return
    if member.isdir() or not (_wanted(name) or _wanted(stripped)):
        return
    if member.issym():
        loaded.links[name] = member.linkname
        return
    if member.size > MAX_FILE_BYTES:
        loaded.files[name] = None  # refused on read, never held in memory
        return
    loaded.kept_bytes += member.size + tarfile.BLOCKSIZE
    if loaded.kept_bytes > MAX_ARCHIVE_BYTES:
        raise SourceUnavailable(
            path, f"the files memstall reads in this archive add up to more than "
                  f"{MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB: not a capture memstall or sos made",
            hint="extract the archive and pass the directory to --root")
    handle = tar.extractfile(member)
    if handle is not None:
        loaded.files[name] = handle.read()


class _Member(io.RawIOBase):
    """A tar member's stream that closes its archive with it."""

    def __init__(self, member: IO[bytes], tar: tarfile.TarFile) -> None:
        super().__init__()
        self._member, self._tar = member, tar

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._member.read(n)

    def readinto(self, buf: Any) -> int:
        data = self._member.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._member.close()
            self._tar.close()
        super().close()


class TarSource:
    """A root filesystem inside a .tar, .tar.gz, .tar.xz or .tar.bz2 file."""

    def __init__(self, path: str) -> None:
        self._label = path
        self._files: dict[str, bytes | None] = {}
        self._links: dict[str, str] = {}
        self._dirs: set[str] = {""}
        self._streams: dict[str, tarfile.TarInfo] = {}
        loaded = self._load(path)
        self._ignored = loaded.ignored
        prefix = self._common_prefix({**loaded.files, **dict.fromkeys(loaded.streams)})
        for name, info in loaded.streams.items():
            rel = name[len(prefix):] if prefix else name
            if _streamed(rel):
                self._streams[rel] = info
                self._add_parents(rel)
        for name, data in [*loaded.files.items(), *loaded.links.items()]:
            rel = name[len(prefix):] if prefix else name
            if not rel or not _wanted(rel):
                continue
            if isinstance(data, str):
                self._links[rel] = data
            else:
                self._files[rel] = data
            self._add_parents(rel)
        self._dirs.update(d[len(prefix):] for d in loaded.dirs if d.startswith(prefix) and d != prefix)
        if not self._files and not self._streams:
            raise SourceUnavailable(
                path, "the tarball holds no file memstall reads (no proc/, no MANIFEST.json, no logs)",
                hint="make one with `memstall snapshot -o FILE.tar.gz`")

    def _add_parents(self, rel: str) -> None:
        parent = posixpath.dirname(rel)
        while parent and parent not in self._dirs:
            self._dirs.add(parent)
            parent = posixpath.dirname(parent)

    @staticmethod
    def _load(path: str) -> _Loaded:
        loaded = _Loaded()
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    if member.isfile() or member.issym() or member.isdir():
                        _take(tar, member, loaded, path)
                _check_end(tar)
        except (tarfile.ReadError, EOFError, zlib.error, lzma.LZMAError, OSError) as err:
            detail = _tar_error(err)
            raise SourceUnavailable(
                path, f"cannot read as a tarball: {detail}",
                hint="--root takes /, a directory, a snapshot tarball or a sosreport") from None
        return loaded

    @staticmethod
    def _common_prefix(members: dict[str, bytes | None]) -> str:
        if any(_wanted(name) or _streamed(name) for name in members):
            return ""
        tops = {name.split("/", 1)[0] for name in members if "/" in name}
        return f"{tops.pop()}/" if len(tops) == 1 else ""

    @property
    def label(self) -> str:
        return self._label

    @property
    def is_live(self) -> bool:
        return False

    def read_text(self, rel: str) -> str:
        key = clean_rel(rel)
        if key in self._files:
            data = self._files[key]
            if data is None:
                raise SourceUnavailable(rel, TOO_LARGE)
            return data.decode("utf-8", errors="replace")
        if key in self._dirs:
            raise SourceUnavailable(rel, "is a directory, expected a file")
        raise SourceUnavailable(rel, f"not in {self._label}")

    def open_stream(self, rel: str) -> tuple[BinaryIO, int]:
        """A kernel log member, decompressed from the archive as it is read (a compressed
        archive is decompressed up to the member once more: flat memory, one more pass)."""
        info = self._streams.get(clean_rel(rel))
        if info is None:
            if clean_rel(rel) in self._files:
                data = self._files[clean_rel(rel)]
                if data is None:
                    raise SourceUnavailable(rel, TOO_LARGE)
                return io.BytesIO(data), len(data)
            raise SourceUnavailable(rel, f"not in {self._label}")
        try:
            tar = tarfile.open(self._label, "r:*")  # noqa: SIM115  # closed with the member
            member = tar.extractfile(info)
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as err:
            raise SourceUnavailable(rel, f"cannot read from {self._label}: {_tar_error(err)}") from None
        if member is None:
            tar.close()
            raise SourceUnavailable(rel, "not a regular file: not read")
        return io.BufferedReader(_Member(member, tar)), info.size

    def exists(self, rel: str) -> bool:
        key = clean_rel(rel)
        return key in self._files or key in self._dirs or key in self._links or key in self._streams

    def readlink(self, rel: str) -> str | None:
        """Symbolic links are kept as links (tune resolves them inside the root), never followed."""
        return self._links.get(clean_rel(rel))

    def is_dir(self, rel: str) -> bool:
        return clean_rel(rel) in self._dirs

    def list_dir(self, rel: str) -> list[str]:
        key = clean_rel(rel)
        names = {
            p[len(key) + 1 if key else 0:].split("/", 1)[0]
            for p in (*self._files, *self._dirs, *self._links, *self._streams)
            if p and (p.startswith(key + "/") if key else True)
        }
        return sorted(n for n in names if n)

    def glob(self, pattern: str) -> list[str]:
        return glob_over(pattern, self.list_dir, self.is_dir)

    def notes(self) -> list[str]:
        if not self._ignored:
            return []
        shown = ", ".join(repr(n) for n in self._ignored[:_SHOWN_IGNORED])
        more = len(self._ignored) - _SHOWN_IGNORED
        return [f"ignored tarball member {shown}{f' and {more} more' if more > 0 else ''}: "
                "an absolute path or '..' could replace or escape the capture"]


def _is_sampled(rel: str, sampled: Sequence[str]) -> bool:
    """Is `rel` (a path or one of the registry's patterns) stored again in every sample?"""
    rel = clean_rel(rel)
    return rel in sampled or any(fnmatch.fnmatchcase(rel, p) for p in sampled)


def sample_count(source: Source) -> int:
    """How many timed samples a capture holds (1 without --samples)."""
    ks = [int(n) for n in source.list_dir(specs.SAMPLES_DIR) if n.isdigit()]
    return max(ks, default=0) + 1


class SampleView:
    """Sample k (1..N-1) of a `memstall snapshot --samples N` capture, as a root.

    The files that change over time (`sampled`: the file registry's sample_paths(), as
    collect.select_sample passes them) come from samples/<k>/ and never fall back to
    sample 0; everything else (sysctls, osrelease, THP settings, MANIFEST.json) is shared.
    """

    def __init__(self, inner: Source, k: int, *, sampled: Sequence[str]) -> None:
        self._inner = inner
        self._sampled = tuple(sampled)
        self._prefix = f"{specs.SAMPLES_DIR}/{k}/"
        self._k = k

    @property
    def label(self) -> str:
        return f"{self._inner.label} (sample {self._k})"

    @property
    def is_live(self) -> bool:
        return False

    def _map(self, rel: str) -> str:
        return self._prefix + clean_rel(rel) if _is_sampled(rel, self._sampled) else rel

    def read_text(self, rel: str) -> str:
        return self._inner.read_text(self._map(rel))

    def open_stream(self, rel: str) -> tuple[BinaryIO, int]:
        return self._inner.open_stream(self._map(rel))

    def exists(self, rel: str) -> bool:
        return self._inner.exists(self._map(rel))

    def list_dir(self, rel: str) -> list[str]:
        return self._inner.list_dir(self._map(rel))

    def readlink(self, rel: str) -> str | None:
        return self._inner.readlink(self._map(rel))

    def glob(self, pattern: str) -> list[str]:
        if not _is_sampled(pattern, self._sampled):
            return self._inner.glob(pattern)
        n = len(self._prefix)
        return [rel[n:] for rel in self._inner.glob(self._prefix + clean_rel(pattern))]

    def notes(self) -> list[str]:
        return self._inner.notes()
