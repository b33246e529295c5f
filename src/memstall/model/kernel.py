"""Kernel release strings and version comparisons."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RELEASE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, order=True)
class KernelVersion:
    """`4.9.0-8-amd64` -> KernelVersion(4, 9, 0). Compare with tuples: `kv >= (5, 18)`."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, release: str) -> KernelVersion | None:
        """The version at the start of a release string, or None if there is none.

        >>> KernelVersion.parse("6.18.44-fc-v595")
        KernelVersion(major=6, minor=18, patch=44)
        >>> KernelVersion.parse("garbage") is None
        True
        """
        m = _RELEASE.match(release.strip())
        if not m:
            return None
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))

    def at_least(self, major: int, minor: int = 0) -> bool:
        return (self.major, self.minor) >= (major, minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"
