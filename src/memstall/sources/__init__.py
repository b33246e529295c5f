"""Where bytes come from: a live root, a captured directory, a tarball or a sosreport.

A `Source` only reads; it never parses. Every path is relative to the root and uses
the names in `specs.py`. Errors are `SourceUnavailable` naming the relative path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstall import specs
from memstall.errors import SourceUnavailable
from memstall.sources.base import Source

if TYPE_CHECKING:
    from memstall.sources.live import DirSource


def __getattr__(name: str) -> Any:
    """`DirSource` on first use: `memstall logs` reads only sources.kernlog, and importing the
    live, snapshot and sosreport readers with this package cost it 33 ms of start-up."""
    if name == "DirSource":
        from memstall.sources.live import DirSource

        return DirSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_ROOT_HINT = ("--root takes /, a directory laid out like a root, a snapshot tarball "
              "or an unpacked sosreport")


def open_root(root: str) -> Source:
    """Open --root: '/', a directory laid out like a root, a snapshot tarball or a sosreport."""

    from memstall.sources.live import DirSource
    from memstall.sources.snapshot import TarSource
    from memstall.sources.sosreport import SosSource, is_sosreport

    path = Path(root)
    if not path.exists():
        raise SourceUnavailable(root, "no such file or directory",
                                hint=_ROOT_HINT)
    if path.is_file():
        tar = TarSource(root)
        return SosSource(tar) if any(tar.exists(m) for m in specs.SOS_MARKERS) else tar
    if not path.is_dir():
        raise SourceUnavailable(root, "not a directory or a tarball")
    if is_sosreport(path):
        return SosSource(DirSource(root))
    src = DirSource(root)
    if not src.is_live and not (src.exists("proc") or src.exists(specs.MANIFEST)):
        raise SourceUnavailable(
            root, "not a root filesystem: expected a proc/ directory or a MANIFEST.json",
            hint=_ROOT_HINT)
    return src


__all__ = ["DirSource", "Source", "open_root"]
