"""Temporary roots for the tune tests: a copy of a real capture, plus tree fingerprints."""

from __future__ import annotations

import shutil
from pathlib import Path

SNAPSHOTS = Path(__file__).parent / "fixtures" / "snapshots"
# The host's own capture: its /proc/zoneinfo watermarks match analysis/watermarks exactly.
BASE = SNAPSHOTS / "x86_64-6.18-pagecache-reclaim"
OLD_KERNEL = SNAPSHOTS / "x86_64-6.1-qemu-2node-fresh"
STATE = "var/lib/memstall"


def make_root(tmp: Path, base: Path = BASE) -> Path:
    """A writable root: the capture (proc/sys/vm, zoneinfo, meminfo...) plus etc/sysctl.d."""
    root = tmp / "root"
    shutil.copytree(base, root)
    (root / "etc" / "sysctl.d").mkdir(parents=True)
    return root


def fingerprint(root: Path) -> dict[str, tuple[bytes | str, int]]:
    """Every file and symlink under root except the state dir: bytes (or link target) and mode."""
    out: dict[str, tuple[bytes | str, int]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(STATE):
            continue
        st = path.lstat()
        if path.is_symlink():
            out[rel] = (str(path.readlink()), st.st_mode)
        elif path.is_file():
            out[rel] = (path.read_bytes(), st.st_mode)
    return out


def vm(root: Path, name: str) -> str:
    return (root / "proc" / "sys" / "vm" / name).read_text()
