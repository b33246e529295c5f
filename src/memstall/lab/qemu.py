"""Boot the guest: the QEMU command line, KVM or TCG, and the console protocol.

The guest prints each file base64-encoded between `===BEGIN <tag> <path>===` and
`===END <tag> <path>===` (byte-exact through the serial tty), its log as
`===LOG <text>===`, `===FAILED <what>===` when it gave up, and `===DONE===` at the end.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from memstall.errors import InputError
from memstall.lab.tools import LabUnavailable, need_tool

APPEND = "console=ttyS0 panic=-1 quiet loglevel=1"
_MARK = re.compile(r"===(BEGIN|END|LOG|FAILED|DONE|PROBE)( .*)?===\s*$")
_B64 = re.compile(r"[A-Za-z0-9+/=]+")


class GuestError(InputError):
    """The guest did not produce what the lab needs (died, timed out, a write failed)."""


def qemu_command(qemu: str, vmlinuz: Path, initrd: Path, memory_mib: int, nodes: int, accel: str,
                 disk: Path | None = None, append: str = APPEND) -> list[str]:
    """One CPU and an equal share of memory per NUMA node."""
    cmd = [qemu, "-accel", accel, "-m", f"{memory_mib}M", "-smp", str(nodes)]
    share = memory_mib // nodes
    for n in range(nodes):
        size = share if n < nodes - 1 else memory_mib - share * (nodes - 1)
        cmd += ["-object", f"memory-backend-ram,id=m{n},size={size}M",
                "-numa", f"node,nodeid={n},memdev=m{n},cpus={n}"]
    cmd += ["-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", append,
            "-display", "none", "-no-reboot", "-nodefaults", "-serial", "stdio"]
    if disk is not None:
        cmd += ["-drive", f"file={disk},format=raw,if=virtio,cache=unsafe"]
    return cmd


@dataclass
class Console:
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """tag -> guest path -> bytes"""
    logs: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    done: bool = False
    probe_ok: bool = False
    other: list[str] = field(default_factory=list)
    """Console lines outside the protocol (kernel messages)."""


def parse_console(text: str, origin: str = "console") -> Console:
    """Decode the guest's console output; a broken frame is a GuestError naming its line."""
    out = Console()
    cur: tuple[str, str] | None = None
    buf: list[str] = []
    for no, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        m = _MARK.search(line)
        if m is None:
            if cur is not None:
                chunk = line.strip()
                if chunk and not _B64.fullmatch(chunk):
                    raise GuestError(f"{origin}:{no}: stray text inside {cur[1]}: {chunk[:60]!r}")
                buf.append(chunk)
            elif line.strip():
                out.other.append(line)
            continue
        kind, rest = m.group(1), (m.group(2) or "").strip()
        if kind == "BEGIN":
            tag, _, path = rest.partition(" ")
            cur, buf = (tag, path), []
        elif kind == "END":
            if cur is None or rest != f"{cur[0]} {cur[1]}":
                raise GuestError(f"{origin}:{no}: END {rest!r} closes no open file")
            try:
                data = base64.b64decode("".join(buf), validate=True)
            except (binascii.Error, ValueError):
                raise GuestError(f"{origin}:{no}: {cur[1]}: bad base64") from None
            out.files.setdefault(cur[0], {})[cur[1]] = data
            cur = None
        elif kind == "LOG":
            out.logs.append(rest)
        elif kind == "FAILED":
            out.failed.append(rest)
        elif kind == "DONE":
            out.done = True
        else:
            out.probe_ok = True
    return out


def run_qemu(cmd: list[str], timeout_seconds: float, console_path: Path) -> tuple[str, float, bool]:
    """Run to completion or timeout; the console goes to console_path. (text, seconds, timed_out)."""
    t0 = time.monotonic()
    timed_out = False
    with console_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            proc.wait()
    text = console_path.read_bytes().decode("latin-1")
    return text, time.monotonic() - t0, timed_out


def kvm_usable(dev: str = "/dev/kvm") -> bool:
    """/dev/kvm exists and this user may open it read-write (a probe boot decides the rest)."""
    try:
        fd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def choose_accel(requested: str, cache: Path, vmlinuz: Path, initrd: Path,
                 kvm_dev: str = "/dev/kvm") -> tuple[str, str]:
    """(accel, why). 'auto': KVM when /dev/kvm opens and a probe boot finishes, else TCG.

    Nested or half-working KVM exists (on the development VM /dev/kvm opens, but a guest
    hangs in early boot), so `auto` boots once with `memstall.probe` and a short timeout
    and remembers the answer for this host boot.
    """
    qemu = need_tool("qemu-system-x86_64", "to boot the guest")
    if requested == "tcg":
        return "tcg", "asked for"
    if not kvm_usable(kvm_dev):
        if requested == "kvm":
            raise LabUnavailable("--accel kvm: /dev/kvm is missing or not writable by this user",
                                 hint="load kvm_intel/kvm_amd, add yourself to group kvm, or use --accel tcg")
        return "tcg", "/dev/kvm is missing or not writable"
    boot_id = Path("/proc/sys/kernel/random/boot_id")
    key = boot_id.read_text().strip() if boot_id.exists() else "unknown"
    memo = cache / f"kvm-probe-{key}-{vmlinuz.name}"
    if not memo.exists():
        cmd = qemu_command(qemu, vmlinuz, initrd, 256, 1, "kvm", append=APPEND + " memstall.probe")
        text, _sec, _timed_out = run_qemu(cmd, 30, cache / "kvm-probe-console.log")
        memo.write_text("ok\n" if parse_console(text).probe_ok else "hung\n")
    works = memo.read_text().strip() == "ok"
    if works:
        return "kvm", "/dev/kvm works (probe boot finished)"
    if requested == "kvm":
        raise LabUnavailable("--accel kvm: a probe guest did not finish booting under KVM "
                             f"(console: {cache / 'kvm-probe-console.log'})",
                             hint="nested virtualisation may be off; use --accel tcg")
    return "tcg", "/dev/kvm opens but a probe guest did not boot under KVM"
