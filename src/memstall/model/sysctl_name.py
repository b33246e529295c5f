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


def parse_setting(text: str) -> tuple[str, str]:
    """`NAME=VALUE` (either spelling, spaces around '=' allowed) -> (key, value).

    >>> parse_setting("vm/swappiness=10 ")
    ('vm/swappiness', '10')
    >>> parse_setting("vm.swappiness")
    Traceback (most recent call last):
    ...
    memstall.model.sysctl_name.SettingError: --set takes KEY=VALUE, got 'vm.swappiness'
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise SettingError(f"--set takes KEY=VALUE, got {text!r}")
    return sysctl_key(name), value.strip()


__all__ = ["SettingError", "parse_setting", "swap_separators", "sysctl_key", "sysctl_name"]
