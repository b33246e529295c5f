"""Path helpers shared by the sources: safe joining and fnmatch globbing over list_dir."""

from __future__ import annotations

import fnmatch
import posixpath
from typing import Callable

# No file memstall reads comes near this (zoneinfo of a 1000-CPU, 8-node host is a few
# MB): anything bigger in a capture is not a kernel file and is not read into memory.
MAX_FILE_BYTES = 64 * 1024 * 1024
TOO_LARGE = "larger than 64 MiB: not a kernel file memstall reads"


def clean_rel(rel: str) -> str:
    """Normalise a root-relative path; refuse anything that escapes the root."""
    norm = posixpath.normpath(rel.lstrip("/"))
    if norm == ".." or norm.startswith("../"):
        raise ValueError(f"path escapes the root: {rel!r}")
    return "" if norm == "." else norm


def glob_over(pattern: str, list_dir: Callable[[str], list[str]],
              is_dir: Callable[[str], bool]) -> list[str]:
    """Expand an fnmatch pattern component by component using `list_dir`."""
    parts = clean_rel(pattern).split("/")
    found = [""]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt: list[str] = []
        for base in found:
            names = list_dir(base) if any(c in part for c in "*?[") else [part]
            for name in names:
                if not fnmatch.fnmatchcase(name, part):
                    continue
                path = f"{base}/{name}" if base else name
                if last or is_dir(path):
                    nxt.append(path)
        found = nxt
    return sorted(found)
