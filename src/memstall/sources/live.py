"""Directory sources: the live root `/` and any directory laid out like a root."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from memstall import rootfd
from memstall.errors import SourceUnavailable
from memstall.sources._paths import MAX_FILE_BYTES, TOO_LARGE, clean_rel, glob_over

# /proc/sys refuses one read() of several MB with ENOMEM (proc_sys_call_handler allocates
# the whole count), so read in small chunks up to the bound.
_CHUNK = 256 * 1024


def _bounded(read_at: Callable[[int], bytes]) -> bytes:
    """Chunks from read_at(offset) until an empty one, at most MAX_FILE_BYTES (plus a chunk)."""
    parts: list[bytes] = []
    size = 0
    while size <= MAX_FILE_BYTES:
        chunk = read_at(size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _read_bounded_from(fh: BinaryIO) -> bytes:
    return _bounded(lambda _offset: fh.read(_CHUNK))


def _read_bounded(path: Path) -> bytes:
    with open(path, "rb", buffering=0) as fh:
        return _read_bounded_from(fh)


def _pread_bounded(fd: int) -> bytes:
    """The whole file from offset 0 through a descriptor kept open: seq_file (/proc) and
    kernfs (/sys) files print afresh when read at offset 0, and a seq_file read can stop
    short of the end (a record that does not fit its buffer), so read on to an empty read."""
    return _bounded(lambda offset: os.pread(fd, _CHUNK, offset))


def _open_kept(path: Path) -> int:
    """Opened as open() does (so the same errors), a directory refused as open() refuses it."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    return fd


# Descriptors kept open for files of the live root read more than once (a Sampler's files,
# read every tick): pread at offset 0 saves the open, fstat and close of each read.
_MAX_KEPT = 64
# Only the kernel's files, printed afresh on each read: a regular file replaced by a rename
# (/etc) would be read through a kept descriptor as it was.
_KEPT_UNDER = ("proc/", "sys/")
# ...but never under a mount an administrator may want to unmount: a kept descriptor in
# debugfs or tracefs makes `umount /sys/kernel/debug` fail with EBUSY while memstall runs
# (found by the live test that mounts debugfs for the extfrag files and unmounts it after).
_NEVER_KEPT_UNDER = ("sys/kernel/debug/", "sys/kernel/tracing/")


def keepable(rel: str) -> bool:
    """Whether a live file read again may keep its descriptor open."""
    return rel.startswith(_KEPT_UNDER) and not rel.startswith(_NEVER_KEPT_UNDER)


class DirSource:
    """Reads files below a directory. With root '/' this is the running kernel."""

    def __init__(self, root: str, label: str | None = None) -> None:
        self._root = Path(root)
        self._label = label or root
        self._live = os.path.realpath(root) == "/"
        self._paths: dict[str, Path] = {}
        self._kept: dict[str, int] = {}
        self._read_once: set[str] = set()

    @property
    def label(self) -> str:
        return self._label

    @property
    def is_live(self) -> bool:
        return self._live

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, rel: str) -> Path:
        """The path of `rel` under the root; remembered, since a Sampler asks for the same
        few dozen paths on every tick (bounded: proc/<pid> paths come and go)."""
        path = self._paths.get(rel)
        if path is None:
            if len(self._paths) >= 4096:
                self._paths.clear()
            path = self._paths[rel] = self._root / clean_rel(rel)
        return path

    def _read_capture_file(self, rel: str) -> bytes:
        with os.fdopen(self._open_capture_file(rel), "rb", buffering=0) as fh:
            return _read_bounded_from(fh)

    def _open_capture_file(self, rel: str) -> int:
        """A capture (not the live root) is read only inside itself, and only regular files:
        an absolute symlink in an unpacked sosreport would read this machine's files, a
        FIFO would block forever, /dev/zero would never end. Resolved component by
        component with O_NOFOLLOW and checked with fstat on the fd that is read, so a link
        swapped in after a check cannot redirect the read (rootfd.open_regular_inside)."""
        try:
            root_fd = rootfd.open_root(str(self._root))
        except OSError as err:
            raise SourceUnavailable(self._label, err.strerror or str(err)) from None
        try:
            fd = rootfd.open_regular_inside(root_fd, clean_rel(rel))
        except rootfd.EscapeError as err:
            raise SourceUnavailable(rel, f"{err.strerror}: not read") from None
        except rootfd.NotRegularError:
            raise SourceUnavailable(rel, "not a regular file: not read") from None
        finally:
            os.close(root_fd)
        return fd

    def _read_live(self, rel: str) -> bytes:
        """A file of the live root. The second read of a proc/ or sys/ file keeps a descriptor
        open (up to _MAX_KEPT); a read that fails through a kept descriptor (the file is gone:
        an exited task's proc/<pid>/stat) closes it and opens the path once more, whose errors are today's."""
        fd = self._kept.pop(rel, None)
        if fd is not None:
            try:
                data = _pread_bounded(fd)
            except OSError:
                os.close(fd)
            else:
                self._keep(rel, fd)
                return data
        elif (rel not in self._read_once or len(self._kept) >= _MAX_KEPT
              or not keepable(rel)):
            if len(self._read_once) >= 4096:
                self._read_once.clear()
            self._read_once.add(rel)
            return _read_bounded(self._path(rel))
        fd = _open_kept(self._path(rel))
        try:
            data = _pread_bounded(fd)
        except BaseException:
            os.close(fd)
            raise
        self._keep(rel, fd)
        return data

    def _keep(self, rel: str, fd: int) -> None:
        # Two threads reading one file each hold a descriptor: one is kept, one closed.
        if self._kept.setdefault(rel, fd) != fd:
            os.close(fd)

    def close(self) -> None:
        """Closes the descriptors kept open (reads after it open them again)."""
        kept, self._kept = self._kept, {}
        for fd in kept.values():
            os.close(fd)

    def __del__(self) -> None:
        for fd in getattr(self, "_kept", {}).values():
            with contextlib.suppress(OSError):
                os.close(fd)

    def read_text(self, rel: str) -> str:
        try:
            data = self._read_capture_file(rel) if not self._live else self._read_live(rel)
        except FileNotFoundError:
            raise SourceUnavailable(rel, "no such file") from None
        except PermissionError:
            raise SourceUnavailable(rel, "permission denied", hint="run as root") from None
        except (IsADirectoryError, NotADirectoryError) as err:
            what = "is a directory, expected a file" if isinstance(err, IsADirectoryError) else "no such file"
            raise SourceUnavailable(rel, what) from None
        except OSError as err:
            if err.errno in (errno.EINVAL, errno.EIO, errno.ENODEV):
                raise SourceUnavailable(rel, f"cannot be read ({err.strerror})") from None
            raise SourceUnavailable(rel, err.strerror or str(err)) from None
        if len(data) > MAX_FILE_BYTES:
            raise SourceUnavailable(rel, TOO_LARGE)
        # /proc text is ASCII; a bad byte must become a parse error, not a crash.
        return data.decode("utf-8", errors="replace")

    def open_stream(self, rel: str) -> tuple[BinaryIO, int]:
        """Opened like `read_text` (inside the capture, regular files only), not read."""
        try:
            if self._live:
                fh: BinaryIO = open(self._path(rel), "rb")  # noqa: SIM115  # the caller closes it
            else:
                fh = os.fdopen(self._open_capture_file(rel), "rb")
            return fh, os.fstat(fh.fileno()).st_size
        except FileNotFoundError:
            raise SourceUnavailable(rel, "no such file") from None
        except PermissionError:
            raise SourceUnavailable(rel, "permission denied", hint="run as root") from None
        except IsADirectoryError:
            raise SourceUnavailable(rel, "is a directory, expected a file") from None
        except OSError as err:
            raise SourceUnavailable(rel, err.strerror or str(err)) from None

    def exists(self, rel: str) -> bool:
        return self._path(rel).exists()

    def is_dir(self, rel: str) -> bool:
        return self._path(rel).is_dir()

    def readlink(self, rel: str) -> str | None:
        try:
            return str(self._path(rel).readlink())
        except (OSError, ValueError):
            return None  # not a link, missing, or a path that escapes the root

    def list_dir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self._path(rel)))
        except OSError:
            return []

    def glob(self, pattern: str) -> list[str]:
        return glob_over(pattern, self.list_dir, self.is_dir)

    def notes(self) -> list[str]:
        return []
