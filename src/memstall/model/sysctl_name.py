"""One reading of sysctl names and of `--set NAME=VALUE`, shared by tune, whatif, the
sysctl.d parser and the range table (pure; no project imports).

A sysctl has two spellings: the /proc/sys relative path (`vm/swappiness`, the *key*) and
the dotted name sysctl(8) prints (`vm.swappiness`, the *name*). A component may itself
hold a dot (`net/ipv4/conf/enp3s0.200/forwarding`), so the two are converted as systemd's
sysctl_normalize() does: if the first separator is a slash the text is already a path,
if it is a dot, dots and slashes are swapped.

>>> sysctl_key("vm.min_free_kbytes"), sysctl_key("/vm/min_free_kbytes")
('vm/min_free_kbytes', 'vm/min_free_kbytes')
>>> sysctl_name("vm/dirty_ratio"), sysctl_name(" vm.dirty_ratio ")
('vm.dirty_ratio', 'vm.dirty_ratio')
>>> parse_setting("vm.watermark_scale_factor = 20")
('vm/watermark_scale_factor', '20')
"""

from __future__ import annotations

import unicodedata

# Characters that end a line for systemd's reader, Python's str.splitlines or a terminal,
# and the rest of Unicode's control/format classes: none may reach a drop-in or /proc/sys.
_BREAKING = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


class SettingError(ValueError):
    """A --set argument that is not NAME=VALUE; the message says what it got."""


def swap_separators(name: str) -> str:
    """'.' <-> '/' in one pass: 'vm.swappiness' <-> 'vm/swappiness'.

    >>> swap_separators("net.ipv4.conf.enp3s0/200.forwarding")
    'net/ipv4/conf/enp3s0.200/forwarding'
    """
    return name.translate(str.maketrans("./", "/."))


def sysctl_key(name: str) -> str:
    """The /proc/sys relative path of a sysctl name (either spelling), as systemd's
    sysctl_normalize().

    >>> sysctl_key("net.ipv4.conf.enp3s0/200.forwarding")
    'net/ipv4/conf/enp3s0.200/forwarding'
    >>> sysctl_key("net/ipv4/conf/enp3s0.200/forwarding")
    'net/ipv4/conf/enp3s0.200/forwarding'
    """
    name = name.strip().lstrip("/")
    first = next((c for c in name if c in "./"), "/")
    return swap_separators(name) if first == "." else name


def sysctl_name(name: str) -> str:
    """The dotted name sysctl(8) shows, from either spelling.

    >>> sysctl_name("/vm/swappiness"), sysctl_name("net/ipv4/conf/enp3s0.200/forwarding")
    ('vm.swappiness', 'net.ipv4.conf.enp3s0/200.forwarding')
    """
    return swap_separators(sysctl_key(name))


def text_problem(text: str) -> str | None:
    """Why `text` cannot be a sysctl name or value (None: printable ASCII on one line).

    The message names the character by code point, never by itself.

    >>> text_problem("10\\rkernel.modprobe = /x")
    'control or line-separator character U+000D in it (a sysctl name or value is one line of printable ASCII)'
    >>> text_problem("\\u0661\\u0660")
    'non-ASCII digit U+0661 in it (numbers are written in ASCII digits 0-9)'
    >>> text_problem("256 256 32") is None
    True
    """
    for c in text:
        if " " <= c <= "~":
            continue
        code = f"U+{ord(c):04X}"
        if unicodedata.category(c) in _BREAKING:
            return (f"control or line-separator character {code} in it (a sysctl name or value is one line "
                    "of printable ASCII)")
        if c.isdigit() or c.isnumeric():
            return f"non-ASCII digit {code} in it (numbers are written in ASCII digits 0-9)"
        return f"non-ASCII character {code} in it (a sysctl name or value is printable ASCII)"
    return None


def parse_setting(text: str) -> tuple[str, str]:
    """`NAME=VALUE` (either spelling, spaces around '=' allowed) -> (key, value).

    >>> parse_setting("vm/swappiness=10 ")
    ('vm/swappiness', '10')
    >>> parse_setting("vm.swappiness")
    Traceback (most recent call last):
    ...
    memstall.model.sysctl_name.SettingError: --set takes KEY=VALUE, got 'vm.swappiness'
    """
    problem = text_problem(text)
    if problem is not None:
        raise SettingError(f"--set {text!a}: {problem}")
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise SettingError(f"--set takes KEY=VALUE, got {text!r}")
    return sysctl_key(name), value.strip()


__all__ = ["SettingError", "parse_setting", "swap_separators", "sysctl_key", "sysctl_name", "text_problem"]
