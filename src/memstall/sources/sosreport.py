"""sosreport sources.

sos copies most of what we need under `proc/` and `sys/`, but often not `proc/sys/vm`;
it keeps `sysctl -a` output in `sos_commands/kernel/sysctl_-a` instead. This wrapper
serves `proc/sys/vm/<name>` from that file when the real file is absent, and says so.
"""

from __future__ import annotations

from pathlib import Path

from memstall.errors import SourceUnavailable
from memstall.sources import specs
from memstall.sources.base import Source

_SYSCTL_VM_PREFIX = "vm."


def is_sosreport(path: Path) -> bool:
    return any((path / marker).is_dir() for marker in specs.SOS_MARKERS)


class SosSource:
    """A sosreport (directory or tarball source) with sysctl values from `sysctl -a`."""

    def __init__(self, inner: Source) -> None:
        self._inner = inner
        self._sysctl: dict[str, str] | None = None

    def _sysctl_vm(self) -> dict[str, str]:
        if self._sysctl is None:
            self._sysctl = {}
            if self._inner.exists(specs.SOS_SYSCTL_A):
                for line in self._inner.read_text(specs.SOS_SYSCTL_A).splitlines():
                    key, sep, value = line.partition(" = ")
                    if sep and key.startswith(_SYSCTL_VM_PREFIX):
                        self._sysctl[key[len(_SYSCTL_VM_PREFIX):]] = value.strip()
        return self._sysctl

    @property
    def label(self) -> str:
        return self._inner.label

    @property
    def is_live(self) -> bool:
        return False

    def _sysctl_name(self, rel: str) -> str | None:
        prefix = specs.SYSCTL_VM_DIR + "/"
        return rel[len(prefix):] if rel.startswith(prefix) else None

    def read_text(self, rel: str) -> str:
        if self._inner.exists(rel):
            return self._inner.read_text(rel)
        name = self._sysctl_name(rel)
        if name is not None and name in self._sysctl_vm():
            return self._sysctl_vm()[name] + "\n"
        raise SourceUnavailable(rel, "not in this sosreport")

    def exists(self, rel: str) -> bool:
        if self._inner.exists(rel):
            return True
        name = self._sysctl_name(rel)
        if rel == specs.SYSCTL_VM_DIR:
            return bool(self._sysctl_vm())
        return name is not None and name in self._sysctl_vm()

    def list_dir(self, rel: str) -> list[str]:
        names = set(self._inner.list_dir(rel))
        if rel.rstrip("/") == specs.SYSCTL_VM_DIR:
            names |= set(self._sysctl_vm())
        return sorted(names)

    def glob(self, pattern: str) -> list[str]:
        return self._inner.glob(pattern)

    def notes(self) -> list[str]:
        notes = list(self._inner.notes())
        if not self._inner.exists(specs.SYSCTL_VM_DIR):
            if self._sysctl_vm():
                notes.append(f"vm sysctls read from {specs.SOS_SYSCTL_A}")
            else:
                notes.append("this sosreport has neither proc/sys/vm nor sysctl -a output")
        for rel in (specs.ZONEINFO, specs.BUDDYINFO, specs.VMSTAT, specs.PAGETYPEINFO):
            if not self._inner.exists(rel):
                notes.append(f"this sosreport lacks {rel}")
        return notes
