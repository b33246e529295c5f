"""Durable file writes: fsync'ed temp file in the same directory, rename, fsync the directory."""

from __future__ import annotations

from pathlib import Path

from memstall.durable import fsync_dir, replacing
from memstall.errors import ApplyError

__all__ = ["atomic_write", "fsync_dir", "read_optional", "refuse_link", "remove_durable"]


def read_optional(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def refuse_link(path: Path, name: str) -> None:
    """Refuse to write through a symlink: it might point anywhere (a package's file,
    /dev/null masking a vendor file)."""
    if path.is_symlink():
        raise ApplyError(f"{name} is a symlink (to {path.readlink()}); refusing to write through it",
                         hint="remove the link or point --root elsewhere")


def atomic_write(path: Path, data: bytes, mode: int = 0o644, shown: str | None = None) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new file, never half.

    Refuses to write through a symlink: the link might point anywhere (a package's file,
    /dev/null masking a vendor file).
    """
    refuse_link(path, shown or str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, mode) as handle:
        handle.write(data)


def remove_durable(path: Path) -> bool:
    """Unlink `path` (True if it existed) and fsync its directory."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True
