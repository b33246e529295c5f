"""Slab caches by memory, and which of them reclaim can free (from proc/slabinfo).

A cache's memory is num_slabs * pagesperslab pages, as slabtop's CACHE SIZE: objects in use
and free slots both occupy it. slabinfo does not say which caches are SLAB_RECLAIM_ACCOUNT
(the SReclaimable of meminfo); their names do:

- vfs caches, what vm.vfs_cache_pressure weights (fs/super.c super_cache_scan: dentries,
  inodes and a filesystem's own inode objects): `dentry` and every `*inode*` cache
  (inode_cache, ext4_inode_cache, xfs_inode, proc_inode_cache, ...);
- other reclaimable caches, freed with the page cache or by their own shrinker, which
  vfs_cache_pressure does not weight: buffer_head (fs/buffer.c), radix_tree_node
  (lib/radix-tree.c, the page cache's xarray nodes), ext4_extent_status, mbcache, and
  kmalloc-rcl-* (5.0+, KMALLOC_RECLAIMABLE).
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.model.slab import SlabCache, SlabInfo

OTHER_RECLAIMABLE = frozenset({"buffer_head", "radix_tree_node", "ext4_extent_status", "mbcache"})


def is_vfs_cache(name: str) -> bool:
    """dentry and inode caches: what vm.vfs_cache_pressure weights.

    >>> is_vfs_cache("ext4_inode_cache"), is_vfs_cache("dentry"), is_vfs_cache("buffer_head")
    (True, True, False)
    """
    return name == "dentry" or "inode" in name


def reclaim_kind(name: str) -> str | None:
    """'vfs', 'other' (reclaimable, not weighted by vfs_cache_pressure) or None."""
    if is_vfs_cache(name):
        return "vfs"
    if name in OTHER_RECLAIMABLE or name.startswith("kmalloc-rcl-"):
        return "other"
    return None


@dataclass(frozen=True)
class SlabUse:
    caches: tuple[SlabCache, ...]
    """Every cache, largest first (then by name)."""
    total_pages: int
    vfs_pages: int
    other_reclaimable_pages: int

    def top(self, n: int, kind: str | None = None) -> tuple[SlabCache, ...]:
        """The n largest caches holding memory; kind 'reclaimable': vfs and other only."""
        chosen = [c for c in self.caches if c.slab_pages > 0
                  and (kind is None or reclaim_kind(c.name) is not None)]
        return tuple(chosen[:n])


def slab_use(info: SlabInfo) -> SlabUse:
    caches = tuple(sorted(info.caches, key=lambda c: (-c.slab_pages, c.name)))
    return SlabUse(
        caches=caches,
        total_pages=sum(c.slab_pages for c in caches),
        vfs_pages=sum(c.slab_pages for c in caches if reclaim_kind(c.name) == "vfs"),
        other_reclaimable_pages=sum(c.slab_pages for c in caches if reclaim_kind(c.name) == "other"),
    )
