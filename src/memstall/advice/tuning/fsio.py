"""Durable file writes: fsync'ed temp file in the same directory, rename, fsync the directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from memstall.errors import ApplyError


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_optional(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def atomic_write(path: Path, data: bytes, mode: int = 0o644, shown: str | None = None) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new file, never half.

    Refuses to write through a symlink: the link might point anywhere (a package's file,
    /dev/null masking a vendor file).
    """
    name = shown or str(path)
    if path.is_symlink():
        raise ApplyError(f"{name} is a symlink (to {path.readlink()}); refusing to write through it",
                         hint="remove the link or point --root elsewhere")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def remove_durable(path: Path) -> bool:
    """Unlink `path` (True if it existed) and fsync its directory."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True
