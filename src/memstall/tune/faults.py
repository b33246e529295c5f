"""Fault injection for the tests: a `Faults` value handed to `ProcSys`, never read from
the environment by production code.

    Faults(fail_write={2: errno.EINVAL})   the 2nd write fails with EINVAL before touching
                                           the file, as the kernel would
    Faults(store_instead={2: "42"})        the 2nd write stores "42" instead, as a kernel
                                           that clamps or ignores a value (read-back catches it)
    Faults(kill_at=("after-backup:1",))    SIGKILL this process at the 1st "after-backup"
    Faults(sleep_at={"before-persist:1": 2})  sleep 2 s at the 1st "before-persist" (races)
    Faults(fail_dir={"etc/sysctl.d": errno.EROFS})
                                           every file created, replaced or removed in
                                           ROOT/etc/sysctl.d fails (EROFS: a read-only
                                           filesystem; ENOSPC: a full one, removing works)

Steps: "after-backup", "before-write", "after-write", "before-persist", "after-persist",
"after-schedule". In-process tests wrap a CLI call in `injected(faults)`; the SIGKILL tests
run tests/tune_driver.py, which does the same in a child process. `cli/tune.py` passes
`active()` (no faults unless a test injected some) to every ProcSys it builds.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import signal
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Faults:
    fail_write: Mapping[int, int] = field(default_factory=dict)
    """Nth write (1-based) -> errno it fails with."""
    store_instead: Mapping[int, str] = field(default_factory=dict)
    """Nth write -> the text stored instead of the value."""
    kill_at: tuple[str, ...] = ()
    """'<step>:<N>': SIGKILL at the Nth time the step is reached."""
    sleep_at: Mapping[str, float] = field(default_factory=dict)
    """'<step>:<N>' -> seconds to sleep there (to open a race window)."""
    fail_dir: Mapping[str, int] = field(default_factory=dict)
    """Root-relative directory -> errno of every write in it (see tune/rootfs.py)."""


NO_FAULTS = Faults()
_ACTIVE: contextvars.ContextVar[Faults] = contextvars.ContextVar("memstall_tune_faults", default=NO_FAULTS)


def active() -> Faults:
    """The faults a test injected around this call; NO_FAULTS otherwise."""
    return _ACTIVE.get()


@contextlib.contextmanager
def injected(faults: Faults) -> Iterator[Faults]:
    """Run the block with `faults` injected into every tune command it starts (tests only)."""
    token = _ACTIVE.set(faults)
    try:
        yield faults
    finally:
        _ACTIVE.reset(token)


class Hooks:
    """Counts the steps of one command and applies its `Faults`; a no-op with NO_FAULTS."""

    def __init__(self, faults: Faults = NO_FAULTS) -> None:
        self.faults = faults
        self.counts: dict[str, int] = {}

    def step(self, name: str) -> int:
        self.counts[name] = self.counts.get(name, 0) + 1
        n = self.counts[name]
        if f"{name}:{n}" in self.faults.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(self.faults.sleep_at.get(f"{name}:{n}", 0))
        return n

    def maybe_fail_write(self, n: int) -> None:
        code = self.faults.fail_write.get(n)
        if code is not None:
            raise OSError(code, os.strerror(code))

    def stored_instead(self, n: int, value: str) -> str:
        return self.faults.store_instead.get(n, value)


def fail_dir_write(rel_dir: str, removing: bool = False) -> None:
    """Raise the errno a test gave ROOT/rel_dir (a full or read-only filesystem there)."""
    code = active().fail_dir.get(rel_dir.strip("/"))
    if code is not None and not (removing and code == errno.ENOSPC):
        raise OSError(code, os.strerror(code))

