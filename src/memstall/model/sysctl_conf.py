"""sysctl.conf / sysctl.d files as systemd-sysctl and `sysctl --system` read them."""

from __future__ import annotations

from dataclasses import dataclass

from memstall.model.sysctl_name import swap_separators


@dataclass(frozen=True)
class SysctlAssignment:
    """One non-comment line of a sysctl.d file."""

    line_no: int
    key: str
    """The /proc/sys relative path ('vm/swappiness'), as systemd normalises the name."""
    value: str | None
    """The text after '=', stripped; None for a '-key' line that only excludes a key from globs."""
    ignore_failure: bool = False
    """'-key = value': a failed write is not an error."""

    @property
    def name(self) -> str:
        """The dotted name sysctl(8) shows: 'vm.swappiness' (dots and slashes swapped)."""
        return swap_separators(self.key)

    @property
    def is_glob(self) -> bool:
        return any(c in self.key for c in "*?[")

    @property
    def is_exclusion(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class IgnoredLine:
    """A line systemd-sysctl logs and skips (no '=' and no '-' prefix, empty key...)."""

    line_no: int
    line: str
    reason: str


@dataclass(frozen=True)
class SysctlConf:
    """One file: its assignments in order, and the lines the applier would skip."""

    assignments: tuple[SysctlAssignment, ...]
    ignored: tuple[IgnoredLine, ...] = ()

    def values(self) -> dict[str, str]:
        """key -> value of the explicit (non-glob) assignments; later lines win."""
        out: dict[str, str] = {}
        for a in self.assignments:
            if a.value is not None and not a.is_glob:
                out[a.key] = a.value
        return out


__all__ = ["IgnoredLine", "SysctlAssignment", "SysctlConf", "swap_separators"]
