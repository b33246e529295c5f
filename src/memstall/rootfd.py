"""Open a path *beneath* a root directory, never through a symbolic link.

Shared by the capture reader (sources/live.DirSource) and the write edge (tune/), like
durable.py: two layers that must not import each other both need it.

- Linux 5.6+ (this is where openat2(2) appeared, commit fddb5d430ad9): one
  `openat2(rootfd, rel, {flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
  RESOLVE_NO_MAGICLINKS})`; the kernel resolves every component inside the root and
  fails with ELOOP at any symlink, with no window for a race.
- Older kernels (ENOSYS) or a seccomp filter that refuses the call (EPERM): walk the
  components from an O_PATH|O_DIRECTORY fd of the root, each opened with O_NOFOLLOW
  relative to the previous one, then check /proc/self/fd/N (the kernel's own idea of
  the path) is still under the root's real path.

Either way a symlink anywhere below the root is refused with `EscapeError`, which names
the root-relative path and nothing of what lies behind it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import posixpath
import stat
from pathlib import Path

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_IN_ROOT = 0x10
# openat2 is 437 on every architecture with the generic syscall table and on x86_64 (5.6+).
_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437, "riscv64": 437, "ppc64le": 437, "s390x": 437}


class EscapeError(OSError):
    """`rel` is (or passes through) a symbolic link, or resolves outside the root."""


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_state = {"openat2": _SYS_OPENAT2.get(platform.machine()) is not None}


def openat2_available() -> bool:
    return _state["openat2"]


def _openat2(root_fd: int, rel: str, flags: int, mode: int) -> int:
    # openat2 refuses a mode without O_CREAT (EINVAL), unlike open(2).
    how = _OpenHow(flags | os.O_CLOEXEC, mode if flags & os.O_CREAT else 0,
                   RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    nr = _SYS_OPENAT2[platform.machine()]
    fd = int(_libc.syscall(ctypes.c_long(nr), ctypes.c_int(root_fd), ctypes.c_char_p(rel.encode()),
                           ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how))))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), rel)
    return fd


def _clean(rel: str) -> list[str]:
    norm = posixpath.normpath("/" + rel).lstrip("/")
    parts = [p for p in norm.split("/") if p]
    if ".." in rel.split("/"):
        raise EscapeError(errno.EXDEV, "path leaves the root", rel)
    return parts


def _walk(root_fd: int, parts: list[str], flags: int, mode: int) -> int:
    fd = os.dup(root_fd)
    try:
        for name in parts[:-1]:
            nxt = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
        last = parts[-1] if parts else "."
        return os.open(last, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
    finally:
        os.close(fd)


def _inside(root_fd: int, fd: int) -> bool:
    try:
        top = str(Path(f"/proc/self/fd/{root_fd}").readlink())
        real = str(Path(f"/proc/self/fd/{fd}").readlink())
    except OSError:
        return True  # no /proc to ask: the O_NOFOLLOW walk alone decides
    return real == top or real.startswith(top.rstrip("/") + "/")


def open_beneath(root_fd: int, rel: str, flags: int, mode: int = 0o644, fallback: bool = False) -> int:
    """An fd for `rel` under the directory `root_fd`, opened with `flags`; never through a
    symlink. `fallback=True` forces the O_NOFOLLOW walk (tests). Raises EscapeError for a
    symlink or an escape, OSError (ENOENT, EACCES...) otherwise."""
    parts = _clean(rel)
    if not fallback and _state["openat2"]:
        try:
            return _openat2(root_fd, "/".join(parts) or ".", flags, mode)
        except OSError as err:
            if err.errno in (errno.ENOSYS, errno.EPERM):
                _state["openat2"] = False  # pre-5.6 kernel or a seccomp filter: walk instead
            elif err.errno in (errno.ELOOP, errno.EXDEV):
                raise EscapeError(errno.ELOOP, "a symbolic link (not followed)", rel) from None
            else:
                raise
    try:
        fd = _walk(root_fd, parts, flags, mode)
    except OSError as err:
        # O_NOFOLLOW on the last component: ELOOP; O_DIRECTORY on a link: ENOTDIR.
        if err.errno in (errno.ELOOP, errno.ENOTDIR) and _has_link(root_fd, parts):
            raise EscapeError(errno.ELOOP, "a symbolic link (not followed)", rel) from None
        raise
    # O_PATH|O_NOFOLLOW opens a final link itself instead of failing: refuse it too.
    if stat.S_ISLNK(os.fstat(fd).st_mode):
        os.close(fd)
        raise EscapeError(errno.ELOOP, "a symbolic link (not followed)", rel)
    if not _inside(root_fd, fd):
        os.close(fd)
        raise EscapeError(errno.EXDEV, "resolves outside the root", rel)
    return fd


def _has_link(root_fd: int, parts: list[str]) -> bool:
    fd = os.dup(root_fd)
    try:
        for name in parts:
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                return False
            if not stat.S_ISDIR(st.st_mode):
                return stat.S_ISLNK(st.st_mode)
            nxt = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return False
    finally:
        os.close(fd)


def open_root(path: str) -> int:
    """An O_PATH fd of the root directory itself (the root may be reached through links)."""
    return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


class NotRegularError(OSError):
    """The path names a FIFO, a device, a socket or a directory: not read."""


_MAX_HOPS = 40  # the kernel's own limit on links followed in one lookup (MAXSYMLINKS)


def open_regular_inside(root_fd: int, rel: str) -> int:
    """A read-only fd of the regular file `rel` under `root_fd`, for captures.

    Relative symlinks are followed as long as they stay inside the root (an unpacked
    sosreport links `uname` to sos_commands/...); an absolute link or one whose `..`
    climbs out raises EscapeError. Every component is opened with O_NOFOLLOW relative
    to the directory fd before it, and the fd read is the one fstat checked, so nothing
    can be swapped in between the check and the read.
    """
    todo = [p for p in rel.split("/") if p and p != "."]
    stack = [os.dup(root_fd)]
    hops = 0
    try:
        while True:
            name = todo.pop(0) if todo else "."
            if name == "..":
                if len(stack) == 1:
                    raise EscapeError(errno.EXDEV, "a symbolic link out of the capture", rel)
                os.close(stack.pop())
                continue
            path_fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            st = os.fstat(path_fd)
            if stat.S_ISLNK(st.st_mode):
                os.close(path_fd)
                target = os.readlink(name, dir_fd=stack[-1])
                hops += 1
                if target.startswith("/") or hops > _MAX_HOPS:
                    raise EscapeError(errno.EXDEV, f"a symbolic link out of the capture (to {target})", rel)
                todo = [p for p in target.split("/") if p and p != "."] + todo
                continue
            if todo:
                stack.append(path_fd)
                continue
            try:
                return _reopen_regular(stack[-1], name, st, rel)
            finally:
                os.close(path_fd)
    finally:
        for fd in stack:
            os.close(fd)


def _reopen_regular(dir_fd: int, name: str, st: os.stat_result, rel: str) -> int:
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", rel)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularError(errno.EINVAL, "not a regular file", rel)
    # O_NONBLOCK: should a FIFO be swapped in now, the open does not hang; fstat refuses it.
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
        os.close(fd)
        raise NotRegularError(errno.EAGAIN, "replaced while being opened", rel)
    return fd
