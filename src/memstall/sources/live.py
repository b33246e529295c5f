"""Directory sources: the live root `/` and any directory laid out like a root."""

from __future__ import annotations

import errno
import os
import threading
import weakref
from pathlib import Path
from typing import BinaryIO

from memstall import rootfd
from memstall.errors import SourceUnavailable
from memstall.sources._paths import MAX_FILE_BYTES, TOO_LARGE, clean_rel, glob_over

# /proc/sys refuses one read() of several MB with ENOMEM (proc_sys_call_handler allocates
# the whole count), so read in small chunks up to the bound.
_CHUNK = 256 * 1024


def _read_bounded_from(fh: BinaryIO) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size <= MAX_FILE_BYTES:
        chunk = fh.read(_CHUNK)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _read_bounded(path: Path) -> bytes:
    with open(path, "rb", buffering=0) as fh:
        return _read_bounded_from(fh)


_MAX_KEPT = 64
"""At most this many descriptors kept open (a few per NUMA node: the sampled files and the
kswapd/kcompactd stat); past it they are all closed and opened again as needed."""


def _close_all(fds: dict[str, tuple[int, int]]) -> None:
    for fd, _ in fds.values():
        os.close(fd)
    fds.clear()


def _pread_whole(fd: int, size_hint: int) -> bytes:
    """The whole file from offset 0. procfs and sysfs files are seq_files: a read at offset
    0 renders the file again, and a read shorter than asked for is its end. seq_file takes
    pread since 2.6.30; where a kernel refuses it (ESPIPE), read_text_kept reads the path."""
    want = max(size_hint * 2, 8192)
    data = os.pread(fd, want, 0)
    if len(data) < want:
        return data
    parts, size = [data], len(data)
    while size <= MAX_FILE_BYTES:
        chunk = os.pread(fd, _CHUNK, size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


class DirSource:
    """Reads files below a directory. With root '/' this is the running kernel."""

    def __init__(self, root: str, label: str | None = None) -> None:
        self._root = Path(root)
        self._label = label or root
        self._live = os.path.realpath(root) == "/"
        self._paths: dict[str, Path] = {}
        self._kept: dict[str, tuple[int, int]] = {}
        """rel -> (descriptor, size of the last read): the files read with read_text_kept."""
        self._kept_lock = threading.Lock()
        weakref.finalize(self, _close_all, self._kept)

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

    def read_text(self, rel: str) -> str:
        try:
            data = self._read_capture_file(rel) if not self._live else _read_bounded(self._path(rel))
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
        return self._decoded(rel, data)

    @staticmethod
    def _decoded(rel: str, data: bytes) -> str:
        if len(data) > MAX_FILE_BYTES:
            raise SourceUnavailable(rel, TOO_LARGE)
        # /proc text is ASCII; a bad byte must become a parse error, not a crash.
        return data.decode("utf-8", errors="replace")

    def read_text_kept(self, rel: str) -> str:
        """`read_text`, for a file read again and again (a Sampler's sampled files): on the
        live root the descriptor stays open and each call reads it again from offset 0,
        without an open and close per read. Any failure of a kept descriptor (a kthread that
        exited gives ESRCH, then the path names nothing or another task) closes it and
        reads the path afresh through `read_text`, which says what happened. A capture is
        read as by `read_text` (its files do not change)."""
        if not self._live:
            return self.read_text(rel)
        with self._kept_lock:
            kept = self._kept.get(rel)
            if kept is not None:
                try:
                    data = _pread_whole(kept[0], kept[1])
                except OSError:
                    os.close(self._kept.pop(rel)[0])
                else:
                    self._kept[rel] = (kept[0], len(data))
                    return self._decoded(rel, data)
            text = self.read_text(rel)  # the first read, or again after a failure: its errors
            self._keep(rel, len(text))
            return text

    def _keep(self, rel: str, size: int) -> None:
        try:
            fd = os.open(self._path(rel), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return  # read_text just read it: a race with its removal; read it afresh next time
        if len(self._kept) >= _MAX_KEPT:
            _close_all(self._kept)
        self._kept[rel] = (fd, size)

    def close(self) -> None:
        """Close the descriptors `read_text_kept` keeps (they are also closed with the object)."""
        with self._kept_lock:
            _close_all(self._kept)

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
