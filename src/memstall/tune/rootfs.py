"""Every file tune touches under --root, resolved inside the root and never through a link.

A `proc/sys/vm/swappiness`, an `etc/sysctl.d` or a `var/lib/memstall` that is a symlink
would otherwise send a write (and the backup's read, printed as the old value) to a file
outside the root. Each call opens the root's directory fd and resolves the root-relative
path with memstall.rootfd.open_beneath (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS on
Linux 5.6+, an O_NOFOLLOW walk before): a link anywhere is refused with one line, before
anything is read or written.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import posixpath
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from memstall import rootfd
from memstall.errors import ApplyError, UsageError
from memstall.tune import faults

_DIR = os.O_PATH | os.O_DIRECTORY
SYSCTL_D = "etc/sysctl.d"
LOCK_WAIT_SECONDS = 30.0
"""How long a tune command waits for another one holding ROOT/etc/sysctl.d."""


def refusal(root: Path, rel: str) -> ApplyError:
    return ApplyError(f"{rel} is a symbolic link or leads out of --root {root}: refusing to read or write "
                      "through it; nothing outside the root was touched",
                      hint="remove the link, or point --root at the real tree")


@contextlib.contextmanager
def opened(root: Path, rel: str, flags: int, mode: int = 0o644) -> Iterator[int]:
    """An fd of ROOT/rel opened with `flags`, resolved inside the root (closed after)."""
    top = rootfd.open_root(str(root))
    try:
        fd = rootfd.open_beneath(top, rel, flags, mode)
    except rootfd.EscapeError:
        raise refusal(root, rel) from None
    finally:
        os.close(top)
    try:
        yield fd
    finally:
        os.close(fd)


def read_bytes(root: Path, rel: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        with opened(root, rel, os.O_RDONLY | os.O_NONBLOCK) as fd, os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write_in_place(root: Path, rel: str, data: bytes) -> int:
    """One write(2) of `data` to the existing file (how /proc/sys is written); bytes written."""
    with opened(root, rel, os.O_WRONLY | os.O_TRUNC) as fd:
        return os.write(fd, data)


def stat(root: Path, rel: str) -> os.stat_result:
    with opened(root, rel, os.O_PATH) as fd:
        return os.fstat(fd)


def check_dir(root: Path, rel: str) -> None:
    """Refuse when any existing component of ROOT/rel is a link; missing ones are fine."""
    parts = [p for p in rel.split("/") if p]
    for i in range(1, len(parts) + 1):
        try:
            with opened(root, "/".join(parts[:i]), _DIR):
                pass
        except (FileNotFoundError, NotADirectoryError):
            return


@contextlib.contextmanager
def parent_dir(root: Path, rel: str, create: bool) -> Iterator[int]:
    """A directory fd of rel's parent, inside the root; its missing parts made when `create`."""
    parts = [p for p in posixpath.dirname(rel).split("/") if p]
    for i in range(1, len(parts) + 1):
        sub = "/".join(parts[:i])
        try:
            with opened(root, sub, _DIR):
                continue
        except FileNotFoundError:
            if not create:
                raise
        with opened(root, "/".join(parts[: i - 1]) or ".", _DIR) as up, contextlib.suppress(FileExistsError):
            os.mkdir(parts[i - 1], 0o755, dir_fd=up)
    with opened(root, "/".join(parts) or ".", os.O_RDONLY | os.O_DIRECTORY) as fd:
        yield fd


def atomic_write(root: Path, rel: str, data: bytes, mode: int) -> None:
    """Replace ROOT/rel by a fsync'ed temp file renamed over it, all relative to the parent's
    fd (rename replaces a link at `rel` rather than following it)."""
    name = posixpath.basename(rel)
    with parent_dir(root, rel, create=True) as dfd:
        faults.fail_dir_write(posixpath.dirname(rel))
        tmp = f".{name}.{secrets.token_hex(4)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o600, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
        os.fsync(dfd)


def remove(root: Path, rel: str) -> bool:
    """Unlink ROOT/rel (True if it existed) and fsync its directory."""
    try:
        with parent_dir(root, rel, create=False) as dfd:
            os.stat(posixpath.basename(rel), dir_fd=dfd, follow_symlinks=False)
            faults.fail_dir_write(posixpath.dirname(rel), removing=True)
            os.unlink(posixpath.basename(rel), dir_fd=dfd)
            os.fsync(dfd)
    except FileNotFoundError:
        return False
    except OSError as err:
        if err.errno == errno.ENOENT:
            return False
        raise
    return True


@contextlib.contextmanager
def locked(root: Path, rel_dir: str = SYSCTL_D, create: bool = False) -> Iterator[None]:
    """flock(2) on the directory ROOT/rel_dir, held by every tune command that may rewrite
    the drop-in in it. Two `apply --persist` with different --state-dir on one root would
    otherwise both read the old drop-in, and the second rename would lose the first's key.
    The directory itself is locked: no lock file lands in etc/sysctl.d. A missing
    directory is made when `create`, else there is nothing to protect."""
    if create:
        with parent_dir(root, f"{rel_dir}/.lock", create=True):
            pass
    with contextlib.ExitStack() as stack:
        try:
            fd: int | None = stack.enter_context(opened(root, rel_dir, os.O_RDONLY | os.O_DIRECTORY))
        except FileNotFoundError:
            fd = None
        if fd is not None:
            _flock(fd, rel_dir)
        yield


def _flock(fd: int, shown: str) -> None:
    give_up = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= give_up:
                raise UsageError(f"{shown} is locked by another memstall tune command",
                                 hint="wait for it to finish") from None
            time.sleep(0.1)
        except OSError:  # no flock here (an NFS root without lockd): go on unlocked, as before
            return
