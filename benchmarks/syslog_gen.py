"""Synthetic fleet syslog for `logs_scan.py`: realistic background lines plus real reports.

The reports are the real excerpts of the corpus (`/work/shared/corpus/*.log`), with their
original wrapper (syslog, dmesg, dmesg -T, journal, ISO rsyslog) stripped and each line
re-stamped as `Mon DD HH:MM:SS <host> kernel: [uptime] <text>` for one of several hosts. The
background is a rotation of kernel and daemon messages of the kinds a fleet syslog is full of;
none of them contains `page allocation` or `oom-killer`, so `grep -c` counts only report lines.
Everything is deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
HOSTS = tuple(f"stor-{i:02d}" for i in range(1, 9))
GREP_PATTERN = r"page allocation\|oom-killer"

# Wrappers of the corpus lines, stripped in this order (each at most once).
_OUTER = re.compile(
    r"^(?:\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:?\d\d|Z)? \S+ |"  # rsyslog RFC3339
    r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (?:\S+ )?)"  # syslog (the host may be cut)
)
_DAEMON = re.compile(r"^[\w./-]+\[\d+\]: ")  # a user-space line inside an excerpt: dropped
_KERNEL = re.compile(r"^(?:[\w.-]+ )?kernel: ?")  # also a syslog prefix cut to "<host> kernel:"
_STAMP = re.compile(
    r"^\[(?:[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}|\s*\+?\d+\.\d+)\] ?"
)

_KERNEL_BG = (
    "IPv4: martian source {ip} from {ip2}, on dev eth0",
    "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC={ip} DST={ip2} "
    "LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID={n} DF PROTO=TCP SPT={port} DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0",
    'audit: type=1400 audit({epoch}.{ms}:{n}): apparmor="DENIED" operation="open" '
    'profile="/usr/sbin/ntpd" name="/proc/{pid}/status" pid={pid} comm="ntpd" '
    'requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    "EXT4-fs (dm-{d}): re-mounted. Opts: errors=remount-ro",
    "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.  Check SNMP counters.",
    "nf_conntrack: nf_conntrack: table full, dropping packet",
    "perf: interrupt took too long ({n4} > 2500), lowering kernel.perf_event_max_sample_rate to 79750",
    "bond0: link status definitely up for interface eth{d}, 10000 Mbps full duplex",
    "mlx5_core 0000:3b:00.{d} eth{d}: Link up",
    "docker0: port {d}(veth{hex}) entered forwarding state",
    "device veth{hex} entered promiscuous mode",
    "xfs filesystem being mounted at /data{d} supports timestamps until 2038 (0x7fffffff)",
    "sd {d}:0:0:0: [sd{c}] Write cache: enabled, read cache: enabled, doesn't support DPO or FUA",
    "INFO: task kworker/u16:{d}:{pid} blocked for more than 120 seconds.",
)
_DAEMON_BG = (
    "systemd[1]: Started Session {n} of user {user}.",
    "systemd[1]: Starting Cleanup of Temporary Directories...",
    "systemd[1]: Started Daily apt download activities.",
    "systemd-logind[{pid}]: New session {n} of user {user}.",
    "systemd-logind[{pid}]: Removed session {n}.",
    "sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:{b64}",
    "sshd[{pid}]: pam_unix(sshd:session): session opened for user {user} by (uid=0)",
    "sshd[{pid}]: Disconnected from user {user} {ip} port {port}",
    "sshd[{pid}]: Invalid user {user} from {ip} port {port}",
    "CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    'dockerd[{pid}]: time="2026-11-26T04:{d}{d}:{d}{d}.{ms}000000Z" level=info msg="ignoring event" '
    'container={hex}{hex}{hex}{hex} module=libcontainerd namespace=moby topic=/tasks/delete '
    'type="*events.TaskDelete"',
    'containerd[{pid}]: time="2026-11-26T04:{d}{d}:{d}{d}.{ms}Z" level=info msg="shim disconnected" '
    "id={hex}{hex}",
    'kubelet[{pid}]: I1126 04:{d}{d}:{d}{d}.{ms}123 {pid} kubelet.go:2447] "SyncLoop (PLEG): event for pod" '
    'pod="default/web-{hex}" event={{ID:{hex} Type:ContainerStarted}}',
    "ntpd[{pid}]: kernel reports TIME_ERROR: 0x41: Clock Unsynchronized",
    "postfix/smtpd[{pid}]: connect from unknown[{ip}]",
    'rsyslogd[{pid}]: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="{pid}" '
    'x-info="https://www.rsyslog.com"] rsyslogd was HUPed',
)
_USERS = ("root", "deploy", "backup", "alice", "bob", "nagios", "ubuntu", "ceph")


@dataclass(frozen=True)
class Report:
    """One corpus excerpt, unwrapped: message texts without any stamp, and its event count."""

    name: str
    lines: tuple[str, ...]
    events: int


def unwrap_line(line: str) -> str | None:
    """The message text of a corpus line, or None for a user-space line (dropped)."""
    text = line.rstrip("\r\n")
    m = _OUTER.match(text)
    if m:
        text = text[m.end():]
        if _DAEMON.match(text):
            return None
    text = _KERNEL.sub("", text, count=1)
    return _STAMP.sub("", text, count=1)


def load_reports(corpus: Path) -> list[Report]:
    """Every corpus log with at least one event in its expected.json, unwrapped."""
    out = []
    for log in sorted(corpus.glob("*.log")):
        expected = log.with_name(log.name[: -len(".log")] + ".expected.json")
        if not expected.exists():
            continue
        events = len(json.loads(expected.read_text())["events"])
        if not events:
            continue
        raw = log.read_text(encoding="utf-8", errors="replace").splitlines()
        lines = tuple(t for t in (unwrap_line(x) for x in raw) if t)
        out.append(Report(log.name, lines, events))
    if not out:
        raise SystemExit(f"no corpus reports with events under {corpus}")
    return out


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        ip2=f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        n=rng.randrange(1, 99999), n4=rng.randrange(2501, 9999), port=rng.randrange(1024, 65535),
        pid=rng.randrange(300, 4194304), epoch=1795000000 + rng.randrange(10**6), ms=rng.randrange(1000),
        d=rng.randrange(10), c="abcdefgh"[rng.randrange(8)], hex=f"{rng.getrandbits(32):08x}",
        user=_USERS[rng.randrange(len(_USERS))], b64=f"{rng.getrandbits(128):032x}",
    )


def background_pool(rng: random.Random, size: int = 20000) -> list[tuple[bool, str]]:
    """(is_kernel, text) lines; a third are kernel messages."""
    pool = []
    for i in range(size):
        kernel = i % 3 == 0
        templates = _KERNEL_BG if kernel else _DAEMON_BG
        pool.append((kernel, _fill(rng, templates[rng.randrange(len(templates))])))
    return pool


class Clock:
    """Wall clock (one syslog second per `rate` lines) and per-host uptimes."""

    def __init__(self, rng: random.Random, rate: int = 400) -> None:
        self.rng = rng
        self.rate = rate
        self.second = 0
        self.count = 0
        self.boot = {h: rng.uniform(1000.0, 5_000_000.0) for h in HOSTS}
        self._prefix = self._make_prefix()

    def _make_prefix(self) -> str:
        s = 26 * 86400 + 4 * 3600 + self.second  # from Nov 26 04:00:00
        day, rest = divmod(s, 86400)
        hh, rest = divmod(rest, 3600)
        mm, ss = divmod(rest, 60)
        return f"{MONTHS[10]} {day:2d} {hh:02d}:{mm:02d}:{ss:02d} "

    def tick(self) -> str:
        self.count += 1
        if self.count >= self.rate:
            self.count = 0
            self.second += 1
            self._prefix = self._make_prefix()
        return self._prefix

    def uptime(self, host: str) -> float:
        return self.boot[host] + self.second + self.count / self.rate


def kernel_line(prefix: str, host: str, uptime: float, text: str) -> str:
    return f"{prefix}{host} kernel: [{uptime:12.6f}] {text}\n"


def report_lines(report: Report, clock: Clock, host: str) -> Iterator[str]:
    for text in report.lines:
        prefix = clock.tick()
        yield kernel_line(prefix, host, clock.uptime(host), text)


def interleaved(lines: Iterator[str], host: str, clock: Clock, rng: random.Random,
                pool: list[tuple[bool, str]], rate: float) -> Iterator[str]:
    """Report lines with other hosts' background lines slipped in (the fleet syslog case)."""
    others = [h for h in HOSTS if h != host]
    for line in lines:
        yield line
        while rng.random() < rate:
            kernel, text = pool[rng.randrange(len(pool))]
            other = others[rng.randrange(len(others))]
            prefix = clock.tick()
            yield (kernel_line(prefix, other, clock.uptime(other), text) if kernel
                   else f"{prefix}{other} {text}\n")


def write_sparse(out: BinaryIO, size_bytes: int, reports: list[Report], n_reports: int, seed: int,
                 interleave: float = 0.0) -> int:
    """Background lines up to `size_bytes`, with `n_reports` reports spread evenly.

    `interleave`: chance, after each report line, of another host's line (repeatedly).

    Returns the number of events (per the corpus expected.json files) in the inserted reports.
    """
    rng = random.Random(seed)
    pool = background_pool(rng)
    clock = Clock(rng)
    gap = max(1, size_bytes // (n_reports + 1))
    written, next_report, inserted, events = 0, gap, 0, 0
    while written < size_bytes:
        chunk = []
        for _ in range(4096):
            kernel, text = pool[rng.randrange(len(pool))]
            host = HOSTS[rng.randrange(len(HOSTS))]
            prefix = clock.tick()
            if kernel:
                chunk.append(kernel_line(prefix, host, clock.uptime(host), text))
            else:
                chunk.append(f"{prefix}{host} {text}\n")
        data = "".join(chunk).encode()
        out.write(data)
        written += len(data)
        while written >= next_report and inserted < n_reports:
            report = reports[inserted % len(reports)]
            host = HOSTS[inserted % len(HOSTS)]
            lines = report_lines(report, clock, host)
            if interleave:
                lines = interleaved(lines, host, clock, rng, pool, interleave)
            data = "".join(lines).encode()
            out.write(data)
            written += len(data)
            events += report.events
            inserted += 1
            next_report += gap
    return events


def write_reports_only(out: BinaryIO, size_bytes: int, reports: list[Report], seed: int) -> int:
    """Reports back to back (rotating hosts) up to `size_bytes`; returns their event count."""
    clock = Clock(random.Random(seed))
    written, events, i = 0, 0, 0
    while written < size_bytes:
        report = reports[i % len(reports)]
        data = "".join(report_lines(report, clock, HOSTS[i % len(HOSTS)])).encode()
        out.write(data)
        written += len(data)
        events += report.events
        i += 1
    return events


_TRACE_ONLY = (
    "Call Trace:",
    " <TASK>",
    " dump_stack_lvl+0x{a:x}/0x{b:x}",
    " __schedule+0x{a:x}/0x{b:x}",
    " schedule_timeout+0x{a:x}/0x{b:x}",
    " </TASK>",
    "INFO: task jbd2/sda1-8:{n} blocked for more than 120 seconds.",
)


def write_trace_only(out: BinaryIO, size_bytes: int, seed: int) -> int:
    """Lines that pass a trigger-word prefilter (`Call Trace:`, hung-task reports) but open no
    allocation report, up to `size_bytes`: the scan must not fall onto a slow path. Returns 0."""
    rng = random.Random(seed)
    clock = Clock(rng)
    written = 0
    while written < size_bytes:
        chunk = []
        for _ in range(4096):
            host = HOSTS[rng.randrange(len(HOSTS))]
            text = _TRACE_ONLY[rng.randrange(len(_TRACE_ONLY))].format(
                a=rng.randrange(1 << 12), b=rng.randrange(1 << 12), n=rng.randrange(1 << 15))
            chunk.append(kernel_line(clock.tick(), host, clock.uptime(host), text))
        data = "".join(chunk).encode()
        out.write(data)
        written += len(data)
    return 0
