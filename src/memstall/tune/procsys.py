"""Reads and writes of ROOT/proc/sys, with read-back and the injected test faults.

A sysctl is written with one write(2) of the value plus a newline, the way sysctl(8)
does; /proc/sys ignores O_TRUNC, a regular file in a test root needs it. Read-back
compares whitespace-separated tokens, since the kernel re-formats what it stores
(`lowmem_reserve_ratio` comes back tab-separated, `020` comes back `20`).

Faults for the tests (a failing Nth write, a clamping kernel, SIGKILL at a step) come in
as a `faults.Faults` value; see tune/faults.py.
"""

from __future__ import annotations

import errno
import stat
from dataclasses import dataclass
from pathlib import Path

from memstall.errors import SourceUnavailable
from memstall.tune import rootfs
from memstall.tune.faults import NO_FAULTS, Faults, Hooks


@dataclass(frozen=True)
class KnobFile:
    key: str
    """/proc/sys relative path: 'vm/swappiness'."""
    exists: bool
    regular: bool
    writable: bool
    readable: bool


def same_value(a: bytes | str, b: bytes | str) -> bool:
    """Equal as the kernel means it: the same whitespace-separated tokens.

    >>> same_value(b"256\\t256\\t32\\n", "256 256 32")
    True
    """
    ta = a.decode(errors="replace") if isinstance(a, bytes) else a
    tb = b.decode(errors="replace") if isinstance(b, bytes) else b
    return ta.split() == tb.split()


class ProcSys:
    """ROOT/proc/sys as files."""

    def __init__(self, root: Path, faults: Faults = NO_FAULTS) -> None:
        self.root = Path(root)
        self.base = self.root / "proc" / "sys"
        self.hooks = Hooks(faults)

    def rel(self, key: str) -> str:
        return f"proc/sys/{key}"

    def path(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise SourceUnavailable(self.rel(key), "not a sysctl name")
        return self.base / key

    def probe(self, key: str) -> KnobFile:
        try:
            self.path(key)
            st = rootfs.stat(self.root, self.rel(key))
        except (OSError, SourceUnavailable):
            return KnobFile(key, exists=False, regular=False, writable=False, readable=False)
        regular = stat.S_ISREG(st.st_mode)
        # /proc/sys enforces the table's mode even for root; a 0444 entry is read-only.
        return KnobFile(key, True, regular, bool(st.st_mode & 0o222), bool(st.st_mode & 0o444))

    def read(self, key: str) -> bytes:
        self.path(key)
        try:
            data = rootfs.read_bytes(self.root, self.rel(key))
        except OSError as err:
            raise SourceUnavailable(self.rel(key), err.strerror or str(err)) from None
        if data is None:
            raise SourceUnavailable(self.rel(key), "No such file or directory")
        return data

    def write(self, key: str, value: str) -> None:
        """One write(2) of `value` + newline; raises OSError as the kernel reports it."""
        n = self.hooks.step("before-write")
        self.hooks.maybe_fail_write(n)
        value = self.hooks.stored_instead(n, value)
        self.write_raw(key, (value.rstrip("\n") + "\n").encode())
        self.hooks.step("after-write")

    def write_raw(self, key: str, data: bytes) -> None:
        self.path(key)
        written = rootfs.write_in_place(self.root, self.rel(key), data)
        if written != len(data):
            raise OSError(errno.EIO, f"short write ({written} of {len(data)} bytes)")
