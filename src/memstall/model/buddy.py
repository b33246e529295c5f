"""/proc/buddyinfo model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZoneFreeAreas:
    """Free blocks per order in one zone: free_blocks[k] blocks of 2**k pages each."""

    node: int
    zone: str
    free_blocks: tuple[int, ...]

    @property
    def free_pages(self) -> int:
        return sum(n << k for k, n in enumerate(self.free_blocks))

    @property
    def subject(self) -> str:
        return f"node{self.node}/{self.zone}"


@dataclass(frozen=True)
class BuddyInfo:
    zones: tuple[ZoneFreeAreas, ...]

    def zone(self, node: int, name: str) -> ZoneFreeAreas | None:
        return next((z for z in self.zones if z.node == node and z.zone == name), None)
