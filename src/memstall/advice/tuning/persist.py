"""ROOT/etc/sysctl.d/90-memstall.conf: read the boot configuration, render and write our file.

The effective order and the precedence warnings come from analysis/sysctl_origin; this
module only reads the directories under --root and writes our one file atomically
(temp file in the same directory, fsync, rename, mode 0644, never through a symlink).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Mapping
from pathlib import Path

from memstall import __version__
from memstall.advice.tuning.fsio import atomic_write, read_optional
from memstall.analysis.sysctl_origin import (
    MEMSTALL_DROP_IN,
    SYSCTL_CONF,
    SYSCTL_D_DIRS,
    ConfFile,
    PrecedenceNote,
    drop_in_report,
)
from memstall.model.sysctl_conf import SysctlConf, swap_separators
from memstall.parsers.sysctl_conf import parse_sysctl_conf


def _link_target(root: Path, rel: str) -> str | None:
    path = root / rel
    if not path.is_symlink():
        return None
    target = str(path.readlink())
    # An absolute link means the same path inside --root, not on this host.
    joined = target.lstrip("/") if target.startswith("/") else posixpath.join(posixpath.dirname(rel), target)
    return posixpath.normpath(joined)


def read_conf_file(root: Path, rel: str) -> ConfFile:
    target = _link_target(root, rel)
    if target == "dev/null":
        return ConfFile(rel, None, target)
    escapes = target is not None and (target == ".." or target.startswith("../"))
    try:
        data = None if escapes else read_optional(root / (target or rel))
    except OSError:  # a directory, a dangling link loop...: systemd-sysctl skips it too
        data = None
    text = data.decode("utf-8", errors="replace") if data is not None else ""
    return ConfFile(rel, parse_sysctl_conf(text, rel), target)


def read_conf_files(root: Path) -> list[ConfFile]:
    """Every sysctl.d/*.conf and etc/sysctl.conf under the root (directories as they are now)."""
    out: list[ConfFile] = []
    for d in SYSCTL_D_DIRS:
        try:
            names = sorted(os.listdir(root / d))
        except OSError:
            continue
        out.extend(read_conf_file(root, f"{d}/{n}") for n in names if n.endswith(".conf"))
    if (root / SYSCTL_CONF).exists():
        out.append(read_conf_file(root, SYSCTL_CONF))
    return out


def read_drop_in(root: Path) -> tuple[bytes | None, SysctlConf | None]:
    """Our file's bytes and parse (strict: memstall wrote it, a broken line is an error)."""
    data = read_optional(root / MEMSTALL_DROP_IN)
    if data is None:
        return None, None
    return data, parse_sysctl_conf(data.decode("utf-8", errors="replace"), MEMSTALL_DROP_IN, strict=True)


def render_drop_in(values: Mapping[str, str], why: Mapping[str, str], tx_id: str) -> bytes:
    lines = [
        f"# Written by memstall {__version__} (`memstall tune apply --persist`), transaction {tx_id}.",
        f"# `memstall tune rollback {tx_id}` restores the previous version of this file (or its absence).",
        "# `memstall tune verify` reports edits to this file and files that override it at boot.",
    ]
    for key, value in values.items():
        # One comment line whatever the rationale holds: a stray newline would leave a
        # non-comment line that systemd-sysctl skips and our strict re-read rejects.
        comment = " ".join(why.get(key, "kept from an earlier memstall transaction").split())
        lines += ["", f"# {comment}", f"{swap_separators(key)} = {value}"]
    return ("\n".join(lines) + "\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_drop_in(root: Path, data: bytes, mode: int = 0o644) -> None:
    atomic_write(root / MEMSTALL_DROP_IN, data, mode, shown=MEMSTALL_DROP_IN)


def precedence(root: Path, values: Mapping[str, str]) -> tuple[PrecedenceNote, ...]:
    return drop_in_report(read_conf_files(root), values)
