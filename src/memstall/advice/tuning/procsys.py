"""Reads and writes of ROOT/proc/sys, with read-back, and the fault-injection test hooks.

A sysctl is written with one write(2) of the value plus a newline, the way sysctl(8)
does; /proc/sys ignores O_TRUNC, a regular file in a test root needs it. Read-back
compares whitespace-separated tokens, since the kernel re-formats what it stores
(`lowmem_reserve_ratio` comes back tab-separated, `020` comes back `20`).

Test hooks (environment variables, read at each step; never set them outside tests):
- MEMSTALL_TEST_FAIL_WRITE="N:ERRNO": the Nth write of this process fails with ERRNO
  (EINVAL, EROFS, EACCES...) before touching the file, as the kernel would.
- MEMSTALL_TEST_STORE_INSTEAD="N:TEXT": the Nth write stores TEXT instead, as a kernel
  that clamps or ignores a value would (the read-back check must catch it).
- MEMSTALL_TEST_KILL_AT="<step>:N": SIGKILL this process at the Nth `step`
  ("before-write", "after-write", "after-backup", "before-persist", "after-persist").
"""

from __future__ import annotations

import errno
import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path

from memstall.errors import SourceUnavailable

FAIL_WRITE_ENV = "MEMSTALL_TEST_FAIL_WRITE"
KILL_AT_ENV = "MEMSTALL_TEST_KILL_AT"
STORE_INSTEAD_ENV = "MEMSTALL_TEST_STORE_INSTEAD"


class Hooks:
    """Counts steps and applies the test hooks; a no-op unless the variables are set."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def step(self, name: str) -> int:
        self.counts[name] = self.counts.get(name, 0) + 1
        n = self.counts[name]
        if os.environ.get(KILL_AT_ENV) == f"{name}:{n}":
            os.kill(os.getpid(), signal.SIGKILL)
        return n

    def maybe_fail_write(self, n: int) -> None:
        spec = os.environ.get(FAIL_WRITE_ENV)
        if not spec:
            return
        which, _, name = spec.partition(":")
        if which == str(n):
            code = getattr(errno, name or "EINVAL", errno.EINVAL)
            raise OSError(code, os.strerror(code))

    def stored_instead(self, n: int, value: str) -> str:
        which, _, text = os.environ.get(STORE_INSTEAD_ENV, "").partition(":")
        return text if which == str(n) else value


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

    def __init__(self, root: Path, hooks: Hooks | None = None) -> None:
        self.root = Path(root)
        self.base = self.root / "proc" / "sys"
        self.hooks = hooks or Hooks()

    def rel(self, key: str) -> str:
        return f"proc/sys/{key}"

    def path(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise SourceUnavailable(self.rel(key), "not a sysctl name")
        return self.base / key

    def probe(self, key: str) -> KnobFile:
        try:
            st = self.path(key).stat()
        except OSError:
            return KnobFile(key, exists=False, regular=False, writable=False, readable=False)
        regular = stat.S_ISREG(st.st_mode)
        # /proc/sys enforces the table's mode even for root; a 0444 entry is read-only.
        return KnobFile(key, True, regular, bool(st.st_mode & 0o222), bool(st.st_mode & 0o444))

    def read(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except OSError as err:
            raise SourceUnavailable(self.rel(key), err.strerror or str(err)) from None

    def write(self, key: str, value: str) -> None:
        """One write(2) of `value` + newline; raises OSError as the kernel reports it."""
        n = self.hooks.step("before-write")
        self.hooks.maybe_fail_write(n)
        value = self.hooks.stored_instead(n, value)
        self.write_raw(key, (value.rstrip("\n") + "\n").encode())
        self.hooks.step("after-write")

    def write_raw(self, key: str, data: bytes) -> None:
        fd = os.open(self.path(key), os.O_WRONLY | os.O_TRUNC)
        try:
            written = os.write(fd, data)
        finally:
            os.close(fd)
        if written != len(data):
            raise OSError(errno.EIO, f"short write ({written} of {len(data)} bytes)")
