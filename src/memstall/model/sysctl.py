"""/proc/sys/vm values: kept as the kernel's text, typed on access."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SysctlVm:
    values: Mapping[str, str]
    """name (without `vm.`) -> the file's text, stripped (`lowmem_reserve_ratio` is '256\t256\t32')."""

    def text(self, name: str) -> str | None:
        return self.values.get(name)

    def int_value(self, name: str) -> int | None:
        raw = self.values.get(name)
        if raw is None:
            return None
        try:
            return int(raw.split()[0])
        except (ValueError, IndexError):
            return None

    def int_list(self, name: str) -> tuple[int, ...] | None:
        raw = self.values.get(name)
        if raw is None:
            return None
        try:
            return tuple(int(x) for x in raw.split())
        except ValueError:
            return None
