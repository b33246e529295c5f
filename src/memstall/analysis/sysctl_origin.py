"""sysctl_origin — which configuration file sets a sysctl at boot, and who overrides whom.

The order systemd-sysctl applies files in (sysctl.d(5), "Configuration directories and
precedence"; docs/kernel.md#sysctl-files-at-boot):

- Files `*.conf` are collected from etc/sysctl.d, run/sysctl.d, usr/local/lib/sysctl.d,
  usr/lib/sysctl.d and lib/sysctl.d (split-usr systems). A file in a directory earlier in
  that list replaces every file **of the same name** in the later ones; a symlink to
  /dev/null (or an empty file) in etc/ masks a vendor file this way.
- The surviving files are applied sorted by file name, regardless of their directory, so
  for one key the file with the lexicographically **latest** name wins; inside a file the
  last line wins.
- A glob (`net.ipv4.conf.*.rp_filter`) applies to every matching key except keys that have
  an explicit assignment anywhere (in any file, before or after the glob) and keys
  excluded with a bare `-key` line.
- etc/sysctl.conf is not read by systemd-sysctl itself: distributions link it in as
  etc/sysctl.d/99-sysctl.conf. procps `sysctl --system` reads the same directories in the
  same order and then etc/sysctl.conf last. We follow procps for a sysctl.conf that no
  sysctl.d symlink points at, and say so.

Pure: callers read the files (tune/ does, under --root) and pass `ConfFile`s.

>>> from memstall.parsers.sysctl_conf import parse_sysctl_conf as p
>>> order = boot_order([ConfFile("usr/lib/sysctl.d/50-default.conf", p("vm.swappiness = 30")),
...                     ConfFile("etc/sysctl.d/99-admin.conf", p("vm.swappiness = 10"))])
>>> key_origin(order, "vm/swappiness").winner.path
'etc/sysctl.d/99-admin.conf'
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from memstall.model.sysctl_conf import SysctlAssignment, SysctlConf, swap_separators

# Highest priority first; a name found in an earlier directory hides the later ones.
SYSCTL_D_DIRS = ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d",
                 "lib/sysctl.d")
SYSCTL_CONF = "etc/sysctl.conf"
MEMSTALL_DROP_IN = "etc/sysctl.d/90-memstall.conf"
# Writing one member of a pair zeroes the other (docs/kernel.md#dirty-limits):
# dirty_bytes/dirty_ratio only when the written value changes the knob, the background
# pair on every successful write.
PARTNERS = {"vm/dirty_bytes": "vm/dirty_ratio", "vm/dirty_ratio": "vm/dirty_bytes",
            "vm/dirty_background_bytes": "vm/dirty_background_ratio",
            "vm/dirty_background_ratio": "vm/dirty_background_bytes"}


@dataclass(frozen=True)
class ConfFile:
    path: str
    """Relative to the root: 'etc/sysctl.d/99-sysctl.conf'."""
    conf: SysctlConf | None
    """None: masked (a symlink to /dev/null)."""
    target: str | None = None
    """Where a symlink points, relative to the root ('etc/sysctl.conf'); None if not a link."""


@dataclass(frozen=True)
class Shadowed:
    path: str
    by: str
    reason: str


@dataclass(frozen=True)
class BootOrder:
    files: tuple[ConfFile, ...]
    """The files applied at boot, in application order (later wins)."""
    shadowed: tuple[Shadowed, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Setter:
    path: str
    line_no: int
    value: str
    glob: str | None = None
    """The pattern (dotted) when the value comes from a glob line."""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line_no}"


@dataclass(frozen=True)
class KeyOrigin:
    key: str
    """/proc/sys relative path ('vm/swappiness')."""
    winner: Setter | None
    """What boot leaves in the kernel; None: no file sets it."""
    setters: tuple[Setter, ...]
    """Every assignment that is applied, in order (the last is the winner)."""
    skipped_globs: tuple[Setter, ...] = ()
    """Glob lines that match but do not apply (an explicit line or '-key' exists)."""

    @property
    def name(self) -> str:
        return swap_separators(self.key)


def _basename(path: str) -> str:
    return posixpath.basename(path)


def _dir_rank(path: str) -> int:
    parent = posixpath.dirname(path)
    return SYSCTL_D_DIRS.index(parent) if parent in SYSCTL_D_DIRS else len(SYSCTL_D_DIRS)


def boot_order(files: Iterable[ConfFile]) -> BootOrder:
    """The files systemd-sysctl (then `sysctl --system` for etc/sysctl.conf) applies, in order."""
    by_name: dict[str, list[ConfFile]] = {}
    sysctl_conf: ConfFile | None = None
    for f in files:
        if f.path == SYSCTL_CONF:
            sysctl_conf = f
        elif posixpath.dirname(f.path) in SYSCTL_D_DIRS and f.path.endswith(".conf"):
            by_name.setdefault(_basename(f.path), []).append(f)
    applied: list[ConfFile] = []
    shadowed: list[Shadowed] = []
    for name in sorted(by_name):
        ranked = sorted(by_name[name], key=lambda f: _dir_rank(f.path))
        top = ranked[0]
        for lower in ranked[1:]:
            reason = "masked (symlink to /dev/null)" if top.conf is None else "same file name"
            shadowed.append(Shadowed(lower.path, top.path, reason))
        if top.conf is not None:
            applied.append(top)
    notes: list[str] = []
    if sysctl_conf is not None and sysctl_conf.conf is not None:
        if any(f.target == SYSCTL_CONF for f in applied):
            notes.append(f"{SYSCTL_CONF} is applied through a sysctl.d symlink, at that file's position")
        else:
            applied.append(sysctl_conf)
            notes.append(f"{SYSCTL_CONF} is applied last by `sysctl --system`; systemd-sysctl reads it "
                         "only through a sysctl.d symlink (usually 99-sysctl.conf)")
    return BootOrder(tuple(applied), tuple(shadowed), tuple(notes))


def glob_matches(pattern: str, key: str) -> bool:
    """glob(7) over /proc/sys paths: '*' never crosses a '/'.

    >>> glob_matches("net/ipv4/conf/*/rp_filter", "net/ipv4/conf/eth0/rp_filter")
    True
    >>> glob_matches("vm/*", "vm/a/b")
    False
    """
    parts, keys = pattern.split("/"), key.split("/")
    return len(parts) == len(keys) and all(fnmatch.fnmatchcase(k, p) for p, k in zip(parts, keys))


def _lines(order: BootOrder) -> Iterable[tuple[ConfFile, SysctlAssignment]]:
    for f in order.files:
        assert f.conf is not None  # masked files never reach BootOrder.files
        for a in f.conf.assignments:
            yield f, a


def key_origin(order: BootOrder, key: str) -> KeyOrigin:
    """Who sets `key` (a /proc/sys path such as 'vm/swappiness') at boot."""
    explicit: list[Setter] = []
    globs: list[Setter] = []
    excluded = False
    for f, a in _lines(order):
        if a.is_glob:
            if a.value is not None and glob_matches(a.key, key):
                globs.append(Setter(f.path, a.line_no, a.value, glob=a.name))
        elif a.key == key:
            if a.value is None:
                excluded = True
            else:
                explicit.append(Setter(f.path, a.line_no, a.value))
    if explicit or excluded:
        return KeyOrigin(key, explicit[-1] if explicit else None, tuple(explicit), tuple(globs))
    return KeyOrigin(key, globs[-1] if globs else None, tuple(globs))


def zeroed_by(order: BootOrder, key: str, setter: Setter) -> Setter | None:
    """The last line applied after `setter` that writes `key`'s partner and so zeroes `key`.

    >>> from memstall.parsers.sysctl_conf import parse_sysctl_conf as p
    >>> order = boot_order([ConfFile("etc/sysctl.d/90-a.conf", p("vm.dirty_bytes = 8192")),
    ...                     ConfFile("etc/sysctl.d/99-b.conf", p("vm.dirty_ratio = 20"))])
    >>> zeroed_by(order, "vm/dirty_bytes", key_origin(order, "vm/dirty_bytes").winner).where
    'etc/sysctl.d/99-b.conf:1'
    """
    partner = PARTNERS.get(key)
    if partner is None:
        return None
    paths = [f.path for f in order.files]

    def position(s: Setter) -> tuple[int, int]:
        return paths.index(s.path), s.line_no

    # dirty_ratio = 0 after dirty_bytes zeroed it changes nothing, so it keeps dirty_bytes.
    later = [s for s in key_origin(order, partner).setters if position(s) > position(setter)
             and ("background" in key or s.value.split() != ["0"])]
    return later[-1] if later else None


@dataclass(frozen=True)
class PrecedenceNote:
    kind: str
    """'overridden' (another file wins at boot), 'overrides' (our file replaces an admin
    value), 'glob' (our explicit line takes the key out of a glob), 'masks' (our file hides
    a same-named file), 'same-value' (another later file sets the same value)."""
    key: str
    path: str
    line_no: int
    value: str | None
    message: str

    @property
    def is_warning(self) -> bool:
        return self.kind in ("overridden", "overrides", "masks")


def _notes_for_key(origin: KeyOrigin, drop_in: str, ours: str) -> list[PrecedenceNote]:
    name = origin.name
    base = _basename(drop_in)
    out: list[PrecedenceNote] = []
    ours_seen = False
    for s in origin.setters:
        if s.path == drop_in:
            ours_seen = True
            continue
        if ours_seen:
            kind = "same-value" if s.value == ours else "overridden"
            verb = "also sets" if kind == "same-value" else "overrides"
            out.append(PrecedenceNote(kind, origin.key, s.path, s.line_no, s.value,
                                      f"{s.where} {verb} {name} = {s.value} at boot "
                                      f"(applied after {base}; memstall sets {ours})"))
        elif s.value != ours:
            out.append(PrecedenceNote("overrides", origin.key, s.path, s.line_no, s.value,
                                      f"{base} overrides {name} = {s.value} set in {s.where}"))
    for g in origin.skipped_globs:
        if g.path != drop_in:
            out.append(PrecedenceNote("glob", origin.key, g.path, g.line_no, g.value,
                                      f"{g.where}: the glob {g.glob} = {g.value} no longer applies to "
                                      f"{name} (an explicit line wins over globs)"))
    return out


def drop_in_report(files: Iterable[ConfFile], values: Mapping[str, str],
                   drop_in: str = MEMSTALL_DROP_IN) -> tuple[PrecedenceNote, ...]:
    """What happens at boot once `drop_in` holds `values` (key path -> value).

    `files` is the configuration as it is now (any existing `drop_in` is replaced).
    """
    ours = SysctlConf(tuple(SysctlAssignment(i, k, v) for i, (k, v) in enumerate(values.items(), start=1)))
    current = [f for f in files if f.path != drop_in]
    order = boot_order([*current, ConfFile(drop_in, ours)])
    notes: list[PrecedenceNote] = [
        PrecedenceNote("masks", "", s.path, 0, None, f"{drop_in} hides {s.path} (same file name)")
        for s in order.shadowed if s.by == drop_in]
    if drop_in not in {f.path for f in order.files}:
        notes.append(PrecedenceNote("overridden", "", drop_in, 0, None,
                                    f"{drop_in} would not be applied at boot"))
    for key, value in values.items():
        notes.extend(_notes_for_key(key_origin(order, key), drop_in, value))
        notes.extend(_partner_notes(order, key, value, drop_in, values))
    return tuple(notes)


def _partner_notes(order: BootOrder, key: str, ours: str, drop_in: str,
                   values: Mapping[str, str]) -> list[PrecedenceNote]:
    """dirty_bytes and dirty_ratio (and the background pair) override each other at boot."""
    partner = PARTNERS.get(key)
    if partner is None:
        return []
    name, base = swap_separators(key), _basename(drop_in)
    out: list[PrecedenceNote] = []
    winner = key_origin(order, key).winner
    z = zeroed_by(order, key, winner) if winner and winner.path == drop_in else None
    if z is not None and z.path != drop_in:
        out.append(PrecedenceNote("overridden", key, z.path, z.line_no, z.value,
                                  f"{z.where} sets {swap_separators(partner)} = {z.value} after {base}, "
                                  f"which zeroes {name} at boot (memstall sets {ours})"))
    theirs = key_origin(order, partner).winner
    if partner not in values and theirs is not None and theirs.path != drop_in:
        z = zeroed_by(order, partner, theirs)
        if z is not None and z.path == drop_in:
            out.append(PrecedenceNote("overrides", partner, theirs.path, theirs.line_no, theirs.value,
                                      f"{base} sets {name} = {ours}, which zeroes "
                                      f"{swap_separators(partner)} = {theirs.value} set in {theirs.where}"))
    return out


__all__ = ["MEMSTALL_DROP_IN", "PARTNERS", "SYSCTL_CONF", "SYSCTL_D_DIRS", "BootOrder", "ConfFile",
           "KeyOrigin", "PrecedenceNote", "Setter", "Shadowed", "boot_order", "drop_in_report",
           "glob_matches", "key_origin", "zeroed_by"]
