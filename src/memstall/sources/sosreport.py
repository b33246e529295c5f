"""sosreport sources.

sos copies most of what we need under `proc/` and `sys/`, but often not `proc/sys/vm`;
it keeps `sysctl -a` output in `sos_commands/kernel/sysctl_-a` instead. This wrapper
serves `proc/sys/vm/<name>` from that file when the real file is absent, and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from memstall import specs
from memstall.errors import SourceUnavailable
from memstall.sources._paths import clean_rel
from memstall.sources.base import Source

# sysctl -a names served as files: `vm.<name>` -> proc/sys/vm/<name>, kernel.osrelease.
_SYSCTL_FILES = {"kernel.osrelease": specs.OSRELEASE}

# What sos does not collect (sos 4.x kernel and memory plugins), named for the user.
_ALWAYS_LACKING = (
    (specs.UPTIME, "proc/uptime (rates between captures cannot be computed)"),
    (specs.THP_DEFRAG, "the THP defrag setting"),
    ("sys/devices/system/node", "per-node vmstat and meminfo"),
)


def is_sosreport(path: Path) -> bool:
    return any((path / marker).is_dir() for marker in specs.SOS_MARKERS)


def _sysctl_rel(key: str) -> str | None:
    if key.startswith("vm."):
        return f"{specs.SYSCTL_VM_DIR}/{key[3:].replace('.', '/')}"
    return _SYSCTL_FILES.get(key)


class SosSource:
    """A sosreport (directory or tarball source) with sysctl values from `sysctl -a`."""

    def __init__(self, inner: Source) -> None:
        self._inner = inner
        self._sysctl: dict[str, str] | None = None

    def _sysctl_a(self) -> dict[str, str]:
        """relative path -> file text, for the sysctl -a lines memstall reads."""
        if self._sysctl is None:
            self._sysctl = {}
            if self._inner.exists(specs.SOS_SYSCTL_A):
                for line in self._inner.read_text(specs.SOS_SYSCTL_A).splitlines():
                    key, sep, value = line.partition(" = ")
                    rel = _sysctl_rel(key.strip()) if sep else None
                    if rel is not None:
                        # sysctl prints list values tab-separated, like the file itself.
                        self._sysctl[rel] = value.strip() + "\n"
        return self._sysctl

    @property
    def label(self) -> str:
        return self._inner.label

    @property
    def is_live(self) -> bool:
        return False

    def read_text(self, rel: str) -> str:
        if self._inner.exists(rel):
            return self._inner.read_text(rel)
        key = clean_rel(rel)
        if key in self._sysctl_a():
            return self._sysctl_a()[key]
        raise SourceUnavailable(rel, "not in this sosreport")

    def open_stream(self, rel: str) -> tuple[BinaryIO, int]:
        return self._inner.open_stream(rel)

    def exists(self, rel: str) -> bool:
        key = clean_rel(rel)
        if self._inner.exists(key) or key in self._sysctl_a():
            return True
        return any(p.startswith(key + "/") for p in self._sysctl_a())

    def readlink(self, rel: str) -> str | None:
        return self._inner.readlink(rel)

    def list_dir(self, rel: str) -> list[str]:
        key = clean_rel(rel)
        names = set(self._inner.list_dir(key))
        names |= {p[len(key) + 1:].split("/", 1)[0] for p in self._sysctl_a()
                  if p.startswith(key + "/")}
        return sorted(names)

    def glob(self, pattern: str) -> list[str]:
        return self._inner.glob(pattern)

    def notes(self) -> list[str]:
        notes = list(self._inner.notes())
        if not self._inner.exists(specs.SYSCTL_VM_DIR):
            if any(p.startswith(specs.SYSCTL_VM_DIR) for p in self._sysctl_a()):
                notes.append(f"sosreport: vm sysctls read from {specs.SOS_SYSCTL_A}")
            else:
                notes.append("sosreport: has neither proc/sys/vm nor sysctl -a output")
        for rel in (specs.ZONEINFO, specs.BUDDYINFO, specs.VMSTAT, specs.MEMINFO,
                    specs.PAGETYPEINFO, specs.PSI_MEMORY):
            if not self._inner.exists(rel):
                notes.append(f"sosreport: lacks {rel}")
        missing = [what for rel, what in _ALWAYS_LACKING if not self._inner.exists(rel)]
        if not self._inner.glob("proc/[0-9]*/stat") and not self._inner.exists(specs.SOS_PS):
            missing.append("kswapd/kcompactd CPU time (proc/<pid>/stat, or ps output)")
        if missing:
            notes.append("sosreport: sos does not collect " + "; ".join(missing))
        return notes
