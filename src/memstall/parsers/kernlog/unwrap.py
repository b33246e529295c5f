"""Strip the wrappers a log pipeline puts around kernel messages.

One physical line in, one `Unwrapped` out: the kernel text (`body`) plus what the wrapper
said about it. Wrappers handled, outermost first:

* journalctl `-o json` records (`{"MESSAGE": ..., "_HOSTNAME": ..., "__MONOTONIC_TIMESTAMP": ...}`);
* `<N>` syslog priority prefixes and `/dev/kmsg` records (`6,1234,5678901,-;msg`,
  `4,19685342,241227987454,-,caller=T12845;msg`);
* syslog / journalctl short (`Mar 22 21:11:57 host kernel: `, `Feb 4 16:15:15` as a web
  archive that collapses spaces prints it), rsyslog RFC 3339 / journalctl
  short-iso (`2017-01-18T13:28:42.743176+03:00 host `), journalctl short-monotonic
  (`[21161.092614] host kernel: `, host optional), a bare `kernel: ` tag;
* dmesg stamps: `[ 4395803.602414]`, `dmesg -T` `[Fri Aug 11 16:51:47 2017]`, delta
  `[  +0.002367]` (not a time: dropped), and a stamp cut in the middle (`7221.937932] `).

Lines that carry a syslog tag other than `kernel` (earlyoom, systemd...) are marked
`kernel=False`. Quoted-printable soft breaks and rsyslog `#012` escapes are undone by the
scanner, which sees several lines at once.

>>> u = unwrap("Feb 28 11:16:37 MyHOST kernel: [4395803.602420] CPU: 4 PID: 1467 Comm: python")
>>> u.host, u.wall, u.stamp, u.uptime_s, u.body
('MyHOST', 'Feb 28 11:16:37', '4395803.602420', 4395803.60242, 'CPU: 4 PID: 1467 Comm: python')
>>> unwrap("Mar 22 21:10:35 dill earlyoom[361]: mem avail").kernel
False
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple


class Unwrapped(NamedTuple):
    body: str
    host: str | None = None
    wall: str | None = None
    """Wall-clock time written by syslog/journald/rsyslog, as printed."""
    stamp: str | None = None
    """The kernel's own stamp as printed: uptime seconds or a `dmesg -T` date."""
    uptime_s: float | None = None
    kernel: bool = True
    prefixed: bool = False
    caller_pid: int | None = None
    """CONFIG_PRINTK_CALLER (4.19+) `[T1234]`: the id of the task that printed the line."""


# The two most common shapes, recognised with one match each (the general path below
# handles them too): syslog with `kernel:` and an optional dmesg stamp, and raw dmesg.
_FAST_SYSLOG = re.compile(r"^([A-Z][a-z]{2} (?:[ \d]\d|\d) \d\d:\d\d:\d\d) (\S+) kernel: ?"
                          r"(?:\[ *(\d{1,12}\.\d+)\] ?)?")
_FAST_FOREIGN = re.compile(r"^([A-Z][a-z]{2} (?:[ \d]\d|\d) \d\d:\d\d:\d\d) ((?!kernel:)\S+) +"
                           r"[\w.@/-]+\[\d+\]: ?")
"""Syslog with another tag (`host sshd[12]: `): what `_after_wall` says through `_HOST_TAG`."""
_FAST_DMESG = re.compile(r"^\[ *(\d{1,12}\.\d+)\] ?(?!\s*(?:[\w.@/-]+\[\d+\]: |\S+ +kernel:|kernel:|\[))")
_PRIO = re.compile(r"^<(\d{1,3}|[a-z]{2,8}\.[a-z]{2,7})> ?")
"""`<4>` or a text priority as syslog-ng/rsyslog templates print it (`<kern.warning>`)."""
_KMSG = re.compile(r"^(\d{1,3}),(\d{1,18}),(\d{1,18}),[^;,]{0,8}(?:,caller=([CT])(\d{1,18}))?[^;]{0,16};")
"""A `/dev/kmsg` record: `prio,seq,usec,flags[,caller=T123];` (the caller field 5.1+, with
CONFIG_PRINTK_CALLER; Documentation/ABI/testing/dev-kmsg)."""
_KMSG_DICT = re.compile(r"^ [A-Z_]+=")
_SYSLOG = re.compile(r"^([A-Z][a-z]{2} (?:[ \d]\d|\d) \d\d:\d\d:\d\d)(?:\.\d+)? +")
_ISO = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) +")
_HOST_KERNEL = re.compile(r"^(?:(\S+) +)?(?:<[a-z]{2,8}\.[a-z]{2,7}> *)?kernel: ?")
_HOST_ONLY = re.compile(r"^([\w.-]+): ?")
"""`Apr 01 14:13:32 mysrv: msg`: a syslog template without the tag (host, then a colon)."""
_HOST_TAG = re.compile(r"^(\S+) +([\w.@/-]+)(?:\[\d+\])?: ?")
_HOST_THEN_STAMP = re.compile(r"^(\S+) +(?=\[)")
_FOREIGN_TAG = re.compile(r"^([\w.@/-]+)\[\d+\]: ")
_UPTIME = re.compile(r"^\[ *(\d+\.\d+)\] ?")
_DELTA = re.compile(r"^\[ *\+? *\d+\.\d+(?: *<[ \d.]*>)?\] ?")
_HUMAN = re.compile(r"^\[([^\s\[\]]{1,12} +[^\s\[\]]{1,12} +\d{1,2} \d\d:\d\d:\d\d \d{4})\] ?")
"""`dmesg -T` (strftime `%a %b %e %H:%M:%S %Y`) in any locale: `[Fri Aug 11 ...]`,
`[Di Aug 12 ...]`, `[mar. août 12 ...]`, `[火  8月 12 ...]`: day and month are any words."""
_CUT_STAMP = re.compile(r"^(\d+\.\d{6})\] ?")
_CALLER = re.compile(r"^\[ *([CT])(\d{1,18})\] ?")

_QUOTE = " \t>"
"""What indents or quotes a pasted line as a whole: spaces, tabs, mail quote marks."""
_QUOTE_START = (" ", "\t", ">")

_MAX_HOSTS = 4096
Hosts = dict[str, None]
"""Host names seen with a `kernel:` tag or a dmesg stamp, owned by one scan (bounded)."""


def _name(host: str | None) -> str | None:
    """A host of punctuation only is a placeholder, not a name: RFC 5424's nil `-`, or `...`
    where a poster cut the date and host (corpus 005)."""
    return host if host is not None and any(ch.isalnum() for ch in host) else None


def _remember(hosts: Hosts, host: str) -> None:
    if host not in hosts and len(hosts) < _MAX_HOSTS:
        hosts[host] = None


def _caller(rest: str) -> tuple[str, int | None]:
    """Strip a printk caller id (`[T1234]` a task, `[C3]` a CPU): (rest, task pid)."""
    c = _CALLER.match(rest)
    if c is None:
        return rest, None
    return rest[c.end():], int(c.group(2)) if c.group(1) == "T" else None


def _dmesg_stamp(rest: str) -> tuple[str, str | None, float | None]:
    """Strip a dmesg stamp (and a caller id after it): (rest, stamp as printed, uptime seconds)."""
    if not rest.startswith("["):
        m = _CUT_STAMP.match(rest)
        if m:
            return rest[m.end():], m.group(1), float(m.group(1))
        return rest, None, None
    m = _UPTIME.match(rest)
    if m:
        return rest[m.end():], m.group(1), float(m.group(1))
    m = _HUMAN.match(rest)
    if m:
        return rest[m.end():], m.group(1), None
    m = _DELTA.match(rest)
    if m:  # `dmesg -d`/delta stamps say nothing about when: dropped
        return rest[m.end():], None, None
    return rest, None, None


def _after_wall(rest: str, hosts: Hosts) -> tuple[str, str | None, bool]:
    """After a syslog/ISO stamp: (rest, host, is_kernel)."""
    m = _HOST_KERNEL.match(rest)
    if m:
        host = _name(m.group(1))
        if host:
            _remember(hosts, host)
        return rest[m.end():], host, True
    m = _HOST_ONLY.match(rest)
    if m:  # after a syslog date the first word is the host (RFC 3164): no tag printed
        _remember(hosts, m.group(1))
        return rest[m.end():], m.group(1), True
    m = _HOST_THEN_STAMP.match(rest)
    if m:
        _remember(hosts, m.group(1))
        return rest[m.end():], m.group(1), True
    m = _HOST_TAG.match(rest)
    if m and "[" in m.group(0):
        _remember(hosts, m.group(1))
        return rest[m.end():], m.group(1), False
    first, _, tail = rest.partition(" ")
    if first in hosts:
        return tail, first, True
    return rest, None, True


def _journal_json(line: str) -> Unwrapped | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    if not isinstance(rec, dict) or "MESSAGE" not in rec:
        return None
    msg = rec["MESSAGE"]
    if isinstance(msg, list):  # journald stores non-UTF-8 messages as byte arrays
        msg = bytes(b & 0xFF for b in msg if isinstance(b, int)).decode("utf-8", "replace")
    if not isinstance(msg, str):
        return None
    kernel = rec.get("_TRANSPORT") == "kernel" or rec.get("SYSLOG_IDENTIFIER") == "kernel"
    host = rec.get("_HOSTNAME") if isinstance(rec.get("_HOSTNAME"), str) else None
    mono = rec.get("__MONOTONIC_TIMESTAMP")
    uptime = int(mono) / 1e6 if isinstance(mono, str) and mono.isdigit() and len(mono) <= 18 else None
    stamp = f"{uptime:.6f}" if uptime is not None else None
    return Unwrapped(msg, host, None, stamp, uptime, kernel, True)


def unwrap(line: str, hosts: Hosts | None = None) -> Unwrapped:
    """Split one physical line into its wrapper fields and the kernel text.

    A wrapped line indented or quoted as a whole (a Markdown code block, a mail quoted with
    `> `, `>> `, `> > `) is unwrapped after its indentation and quote marks when what follows
    is a wrapper with a time or a host.
    """
    if hosts is None:
        hosts = {}
    if line[:1] in _QUOTE_START:
        inner = _unwrap(line.lstrip(_QUOTE), hosts)
        if _dated(inner):
            return inner
    return _unwrap(line, hosts)


def _dated(u: Unwrapped) -> bool:
    return u.wall is not None or u.stamp is not None or u.host is not None


def _unwrap(line: str, hosts: Hosts) -> Unwrapped:
    m = _FAST_SYSLOG.match(line)
    if m:
        host: str | None = m.group(2)
        if host not in hosts:  # a learned host is a name; a placeholder is never learned
            host = _name(host)
            if host is not None:
                _remember(hosts, host)
        up = m.group(3)
        rest = line[m.end():]
        if rest[:1] == "[" or (up is None and rest[:1].isdigit()):
            return _general(line, hosts)  # a caller id, a -T/delta/cut stamp may follow
        return Unwrapped(rest, host, m.group(1), up, float(up) if up else None, True, True)
    m = _FAST_DMESG.match(line)
    if m:
        return Unwrapped(line[m.end():], None, None, m.group(1), float(m.group(1)), True, True)
    m = _FAST_FOREIGN.match(line)
    if m:
        host = m.group(2)
        if host not in hosts:
            _remember(hosts, host)
        rest, stamp, uptime = _dmesg_stamp(line[m.end():])
        rest, caller = _caller(rest) if rest[:1] == "[" else (rest, None)
        return Unwrapped(rest, host, m.group(1), stamp, uptime, False, True, caller)
    return _general(line, hosts)


def unwrap_general(line: str, hosts: Hosts) -> Unwrapped:
    """Every wrapper, tried in order (outermost first); the slow path `unwrap` must agree with."""
    if line[:1] in _QUOTE_START:
        inner = _general(line.lstrip(_QUOTE), hosts)
        if _dated(inner):
            return inner
    return _general(line, hosts)


def _general(line: str, hosts: Hosts) -> Unwrapped:
    if line.startswith("{"):
        rec = _journal_json(line)
        if rec is not None:
            return rec
    rest, host, wall = line, None, None
    kernel, prefixed = True, False
    m = _PRIO.match(rest)
    if m:
        rest, prefixed = rest[m.end():], True
    m = _KMSG.match(rest)
    if m:
        seconds = int(m.group(3)) / 1e6
        caller = int(m.group(5)) if m.group(4) == "T" else None
        return Unwrapped(rest[m.end():], None, None, f"{seconds:.6f}", seconds, True, True, caller)
    if _KMSG_DICT.match(rest):
        return Unwrapped(rest, kernel=False, prefixed=True)
    m = _SYSLOG.match(rest) or _ISO.match(rest)
    if m:
        wall, prefixed = m.group(1), True
        rest, host, kernel = _after_wall(rest[m.end():], hosts)
    elif not rest.startswith("["):
        m = _HOST_KERNEL.match(rest)
        if m:
            rest, host, prefixed = rest[m.end():], _name(m.group(1)), True
    rest, stamp, uptime = _dmesg_stamp(rest)
    rest, caller = _caller(rest) if rest[:1] == "[" else (rest, None)
    if stamp is not None or rest is not line:
        prefixed = True
    if wall is None and stamp is not None and host is None and kernel:
        # journalctl -o short-monotonic: `[t] host kernel: msg`, `[t] kernel: msg`, `[t] tag[pid]: msg`
        m = _HOST_KERNEL.match(rest)
        if m:
            rest, host = rest[m.end():], _name(m.group(1))
        elif _FOREIGN_TAG.match(rest):
            kernel = False
    return Unwrapped(rest, host, wall, stamp, uptime, kernel, prefixed, caller)
