"""sysctl_conf — /etc/sysctl.conf and sysctl.d/*.conf

The format read by systemd-sysctl (sysctl.d(5)) and procps `sysctl -p/--system`::

    # comment          ; comment too
    vm.swappiness = 10
    vm/dirty_ratio=20                 # '/' and '.' both separate names
    -vm.nonexistent = 1               # '-': a failed write is not an error
    net.ipv4.conf.*.rp_filter = 2     # glob(7) pattern: every matching key
    -net.ipv4.conf.lo.rp_filter       # '-' and no '=': exclude this key from the globs

Names are normalised as systemd's sysctl_normalize does (model/sysctl_name.sysctl_key;
docs/kernel.md#sysctl-files-at-boot): if the first
separator is a slash the name is already a path; if it is a dot, dots and slashes are
swapped, so `net.ipv4.conf.enp3s0/200.forwarding` is `net/ipv4/conf/enp3s0.200/forwarding`.
The value is the rest of the line after '=', stripped; there are no inline comments
(`vm.swappiness = 10 # low` writes "10 # low", which the kernel rejects).

Lines systemd logs and skips (no '=', an empty key) are kept in `ignored` with the
reason; `strict=True` turns the first of them into a ParseError instead (used for the
file memstall writes itself).

>>> conf = parse_sysctl_conf("vm.swappiness = 10\\n-vm/dirty_ratio=20\\n")
>>> [(a.key, a.value, a.ignore_failure) for a in conf.assignments]
[('vm/swappiness', '10', False), ('vm/dirty_ratio', '20', True)]
"""

from __future__ import annotations

from memstall.errors import ParseError
from memstall.model.sysctl_conf import IgnoredLine, SysctlAssignment, SysctlConf
from memstall.model.sysctl_name import sysctl_key, sysctl_name

_COMMENT = ("#", ";")
_EXPECTED = "'key = value', '-key = value' or '-key'"


def _problem(key: str) -> str | None:
    if not key:
        return "empty key"
    if any(c.isspace() for c in key):
        return "whitespace inside the key"
    if "\0" in key:
        return "NUL byte in the key"
    return None


def _line(no: int, raw: str) -> SysctlAssignment | IgnoredLine | None:
    line = raw.strip()
    if not line or line.startswith(_COMMENT):
        return None
    ignore = line.startswith("-")
    body = line[1:].lstrip() if ignore else line
    key, sep, value = body.partition("=")
    key = key.strip()
    if not sep:
        if not ignore:
            return IgnoredLine(no, raw, "not an assignment (no '=')")
        # '-key' alone: exclude the key from glob assignments (systemd 24x+).
        reason = _problem(key)
        return IgnoredLine(no, raw, reason) if reason else SysctlAssignment(no, sysctl_key(key), None)
    reason = _problem(key)
    if reason:
        return IgnoredLine(no, raw, reason)
    return SysctlAssignment(no, sysctl_key(key), value.strip(), ignore_failure=ignore)


def parse_sysctl_conf(text: str, path: str = "etc/sysctl.conf", strict: bool = False) -> SysctlConf:
    assignments: list[SysctlAssignment] = []
    ignored: list[IgnoredLine] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        item = _line(no, raw.rstrip("\r"))
        if item is None:
            continue
        if isinstance(item, IgnoredLine):
            if strict:
                raise ParseError(path, no, item.line, f"{_EXPECTED} ({item.reason})")
            ignored.append(item)
        else:
            assignments.append(item)
    return SysctlConf(tuple(assignments), tuple(ignored))


def format_sysctl_conf(values: dict[str, str] | list[tuple[str, str]], header: str = "") -> str:
    """`name = value` lines (dotted names), after an optional '# ' comment header."""
    items = list(values.items()) if isinstance(values, dict) else list(values)
    out = [f"# {h}".rstrip() for h in header.splitlines()] if header else []
    out += [f"{sysctl_name(k)} = {v}" for k, v in items]
    return "\n".join(out) + "\n"


__all__ = ["format_sysctl_conf", "parse_sysctl_conf"]
