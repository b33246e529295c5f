"""ROOT/etc/sysctl.d/90-memstall.conf: read the boot configuration, render and write our file.

The effective order and the precedence warnings come from analysis/sysctl_origin; this
module reads the sysctl.d directories through a `Source` (so `tune plan --persist` works on
a tarball or a sosreport as on a live root) and writes our one file atomically
(temp file in the same directory, fsync, rename, mode 0644, never through a symlink).
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping
from pathlib import Path

from memstall import __version__
from memstall.analysis.sysctl_origin import (
    MEMSTALL_DROP_IN,
    SYSCTL_CONF,
    SYSCTL_D_DIRS,
    ConfFile,
    PrecedenceNote,
    drop_in_report,
)
from memstall.errors import SourceUnavailable
from memstall.model.sysctl_conf import SysctlConf, swap_separators
from memstall.parsers.sysctl_conf import parse_sysctl_conf
from memstall.sources import Source
from memstall.tune import rootfs
from memstall.tune.fsio import refuse_link

_MAX_LINK_HOPS = 8  # a link loop reads as an empty file, as systemd-sysctl skips it


def _link_target(source: Source, rel: str) -> str | None:
    target = source.readlink(rel)
    if target is None:
        return None
    # An absolute link means the same path inside the root, not on this host.
    joined = target.lstrip("/") if target.startswith("/") else posixpath.join(posixpath.dirname(rel), target)
    return posixpath.normpath(joined)


def _escapes(rel: str) -> bool:
    return rel == ".." or rel.startswith("../")


def _read_through_links(source: Source, target: str) -> str:
    """The text at `target`, following further links inside the root ("" when unreadable)."""
    for _ in range(_MAX_LINK_HOPS):
        nxt = _link_target(source, target)
        if nxt is None:
            try:
                return source.read_text(target)
            except SourceUnavailable:  # a directory, a FIFO...: systemd-sysctl skips it too
                return ""
        if nxt == "dev/null" or _escapes(nxt):
            return ""
        target = nxt
    return ""


def read_conf_file(source: Source, rel: str) -> ConfFile:
    target = _link_target(source, rel)
    if target == "dev/null":
        return ConfFile(rel, None, target)
    text = "" if target is not None and _escapes(target) else _read_through_links(source, target or rel)
    return ConfFile(rel, parse_sysctl_conf(text, rel), target)


def read_conf_files(source: Source) -> list[ConfFile]:
    """Every sysctl.d/*.conf and etc/sysctl.conf of the root (live, a directory or a tarball)."""
    out: list[ConfFile] = []
    for d in SYSCTL_D_DIRS:
        out.extend(read_conf_file(source, f"{d}/{n}") for n in source.list_dir(d) if n.endswith(".conf"))
    if source.exists(SYSCTL_CONF):
        out.append(read_conf_file(source, SYSCTL_CONF))
    return out


def drop_in_values(source: Source) -> dict[str, str]:
    """key -> value of our drop-in as the root holds it now ({} when there is none or it
    cannot be read; strict: a line we did not write is a ParseError)."""
    text = _read_through_links(source, MEMSTALL_DROP_IN)  # a link: apply refuses it, a plan reads it
    return parse_sysctl_conf(text, MEMSTALL_DROP_IN, strict=True).values()


def read_drop_in(root: Path) -> tuple[bytes | None, SysctlConf | None]:
    """Our file's bytes and parse (strict: memstall wrote it, a broken line is an error)."""
    data = rootfs.read_bytes(root, MEMSTALL_DROP_IN)
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
    refuse_link(root / MEMSTALL_DROP_IN, MEMSTALL_DROP_IN)
    rootfs.atomic_write(root, MEMSTALL_DROP_IN, data, mode)


def precedence(source: Source, values: Mapping[str, str]) -> tuple[PrecedenceNote, ...]:
    return drop_in_report(read_conf_files(source), values)
