"""Profiles: the sysctls one side of an A/B comparison applies inside the guest.

A profile is a file in sysctl.d format (what `memstall tune export` writes), or the word
`current`: no change at all, the guest kernel's own defaults. The guest gets one line
per setting, `FLAG PATH VALUE` (FLAG `-` when a failed write may be ignored, as the
file's `-key = value` says), and reads each value back after writing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from memstall.errors import InputError, UsageError
from memstall.parsers.sysctl_conf import parse_sysctl_conf

CURRENT = "current"
_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")


@dataclass(frozen=True)
class Profile:
    name: str
    source: str
    """The file it was read from, or 'current'."""
    text: str
    settings: tuple[tuple[str, str, bool], ...]
    """(path under /proc/sys, value, ignore_failure), in file order."""

    def guest_lines(self) -> bytes:
        return b"".join(f"{'-' if ign else '+'} {path} {value}\n".encode()
                        for path, value, ign in self.settings)


def load_profile(spec: str) -> Profile:
    """`current`, or a sysctl.d file; globs and exclusions are refused (the guest has no expansion)."""
    if spec == CURRENT:
        return Profile(CURRENT, CURRENT, "", ())
    path = Path(spec)
    try:
        text = path.read_text()
    except OSError as err:
        raise InputError(f"{spec}: cannot read the profile: {err.strerror}",
                         hint="--profile takes 'current' or a sysctl.d file "
                              "(`memstall tune export` writes one)") from None
    conf = parse_sysctl_conf(text, path=spec)
    settings = []
    for a in conf.assignments:
        if a.value is None or not _PATH.fullmatch(a.key) or ".." in a.key.split("/"):
            raise InputError(f"{spec}:{a.line_no}: the lab applies plain 'key = value' lines; "
                             f"got {a.key!r}")
        if "\n" in a.value:
            raise InputError(f"{spec}:{a.line_no}: a value on more than one line")
        settings.append((a.key, a.value, a.ignore_failure))
    if not settings:
        raise InputError(f"{spec}: no sysctl assignments in the profile",
                         hint="use 'current' for the guest's defaults")
    return Profile(path.stem, spec, text, tuple(settings))


def load_profiles(specs: list[str]) -> list[Profile]:
    """Distinct names are needed to tell the runs apart: a repeated stem gets -2, -3..."""
    if len(specs) < 1:
        raise UsageError("give at least one --profile (current or a sysctl.d file)")
    out: list[Profile] = []
    for spec in specs:
        p = load_profile(spec)
        names = {q.name for q in out}
        n, name = 2, p.name
        while name in names:
            name, n = f"{p.name}-{n}", n + 1
        out.append(Profile(name, p.source, p.text, p.settings))
    return out
