"""`memstall lab run`: boot one guest per run, alternating profiles, and keep everything.

Results directory (one per invocation, `<out>/<scenario>-<UTC time>/`):

    lab.json                 what was run: scenario, parameters, kernel, QEMU, accel, run order
    profiles/<name>.conf     each profile as given ('current' is an empty file)
    run<K>/run.json          profile, order, seconds, the exact QEMU command line (also
    run<K>/qemu-cmdline.txt  shell-quoted), the guest's log
    run<K>/snap-<J>/         one snapshot per interval: MANIFEST.json + the files, so
                             `memstall --root run<K>/snap-<J> show frag` works
    run<K>/dmesg.txt         the guest's kernel log;  run<K>/latency_us.txt the workload's
    run<K>/console.txt       console lines outside the file protocol (kernel messages)
    run<K>/trace.txt         the stall tracepoints' `trace` text (tracefs instance), and
    run<K>/trace-events.txt  the events that were enabled (its set_event); both absent
                             when the guest kernel has no tracefs

Order: runs alternate A B, B A, A B ... (ABBA), so slow drift of the host (page cache,
another VM) does not land on one profile.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from memstall.errors import InputError
from memstall.lab import initramfs
from memstall.lab.profiles import Profile
from memstall.lab.qemu import APPEND, Console, GuestError, choose_accel, parse_console, qemu_command, run_qemu
from memstall.lab.scenarios import guest_params, params_file, scenario
from memstall.lab.tools import Kernel, need_tool
from memstall.manifest import MANIFEST, build_manifest, dump_manifest

LAB_FORMAT = "memstall.lab-run/1"
USER_HZ = 100  # x86-64 USER_HZ: /proc/<pid>/stat ticks in the guest


@dataclass(frozen=True)
class LabConfig:
    scenario: str
    profiles: tuple[Profile, ...]
    runs: int
    memory_mib: int
    nodes: int
    duration_seconds: int
    interval_seconds: float
    kernel: Kernel
    cache: Path
    out: Path
    accel: str = "auto"
    thp_defrag: str | None = None
    timeout_seconds: float | None = None


def run_order(profiles: tuple[Profile, ...], runs: int) -> list[Profile]:
    """ABBA: round k runs the profiles forwards when k is even, backwards when odd."""
    order: list[Profile] = []
    for k in range(runs):
        order += list(profiles) if k % 2 == 0 else list(reversed(profiles))
    return order


def _utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _overlay(params: dict[str, str], profile: Profile) -> bytes:
    import gzip
    files = {"lab/params": (0o644, params_file(params)), "lab/profile": (0o644, profile.guest_lines())}
    return gzip.compress(initramfs.cpio_newc(files), mtime=0)


def write_snapshot(snap_dir: Path, files: dict[str, bytes], *, nodes: int, shows: str, captured: str,
                   accel: str) -> None:
    """One snapshot tree + MANIFEST.json (memstall.snapshot/1) from the guest's files."""
    rels = []
    for path, data in sorted(files.items()):
        rel = path.lstrip("/")
        dst = snap_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        rels.append(rel)
    kernel = files.get("/proc/sys/kernel/osrelease", b"").decode().strip() or None
    manifest = build_manifest(
        source=f"memstall lab (QEMU {accel} guest)", kernel=kernel, arch="x86_64", page_size=4096,
        clock_ticks_per_second=USER_HZ, numa_nodes=nodes, captured=captured, hostname=None,
        files=rels, unavailable={}, shows=shows)
    (snap_dir / MANIFEST).write_bytes(dump_manifest(manifest))


def _decode_run(console: Console, run_dir: Path, cfg: LabConfig, profile: Profile, k: int,
                accel: str, captured: str) -> int:
    snaps = sorted((t for t in console.files if t.startswith("snap-")), key=lambda t: int(t[5:]))
    for tag in snaps:
        write_snapshot(run_dir / tag, console.files[tag], nodes=cfg.nodes, captured=captured, accel=accel,
                       shows=f"memstall lab: scenario {cfg.scenario}, profile {profile.name}, "
                             f"run {k}, {tag}")
    extra = console.files.get("run", {})
    (run_dir / "dmesg.txt").write_bytes(extra.get("/dmesg", b""))
    lat = b"".join(v for p, v in sorted(extra.items()) if p.startswith("/workload/latency-"))
    (run_dir / "latency_us.txt").write_bytes(lat)
    for name in ("trace", "trace-events"):  # absent: the guest kernel had no tracefs
        if f"/{name}" in extra:
            (run_dir / f"{name}.txt").write_bytes(extra[f"/{name}"])
    return len(snaps)


def _one_run(cfg: LabConfig, profile: Profile, k: int, base: Path, accel: str, params: dict[str, str],
             log: Callable[[str], None]) -> None:
    run_dir = cfg.out / f"run{k}"
    run_dir.mkdir(parents=True)
    qemu = need_tool("qemu-system-x86_64", "to boot the guest")
    with tempfile.TemporaryDirectory(prefix="run-", dir=cfg.cache) as tmp:
        initrd = Path(tmp) / "initrd.gz"
        initrd.write_bytes(base.read_bytes() + _overlay(params, profile))
        (run_dir / "overlay.cpio.gz").write_bytes(_overlay(params, profile))
        disk = None
        if scenario(cfg.scenario).disk:
            disk = Path(tmp) / "disk.img"
            with disk.open("wb") as f:
                f.truncate(cfg.memory_mib * 4 << 20)
        cmd = qemu_command(qemu, cfg.kernel.vmlinuz, initrd, cfg.memory_mib, cfg.nodes, accel, disk)
        timeout = cfg.timeout_seconds or 3 * cfg.duration_seconds + 240
        captured = _utc_now()
        log(f"run{k}: profile {profile.name} ({accel})")
        text, seconds, timed_out = run_qemu(cmd, timeout, run_dir / "console.log")
    console = parse_console(text, str(run_dir / "console.log"))
    meta = {"schema": LAB_FORMAT, "run": k, "profile": profile.name, "captured": captured,
            "seconds": round(seconds, 1), "timed_out": timed_out, "accel": accel, "qemu_command": cmd,
            "guest_log": console.logs, "done": console.done}
    (run_dir / "qemu-cmdline.txt").write_text(shlex.join(cmd) + "\n")
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    if console.failed:
        raise GuestError(f"run{k} ({profile.name}): the guest gave up: {console.failed[0]}",
                         hint=f"its log: {run_dir / 'run.json'} (guest_log)")
    if not console.done:
        why = f"timed out after {timeout:.0f} s" if timed_out else "stopped early"
        raise GuestError(f"run{k} ({profile.name}): the guest {why}; "
                         f"console kept in {run_dir / 'console.log'}",
                         hint="raise --timeout, or lower --memory/--duration (TCG is slow)")
    n = _decode_run(console, run_dir, cfg, profile, k, accel, captured)
    (run_dir / "console.txt").write_text("\n".join(console.other) + "\n")
    (run_dir / "console.log").unlink()
    log(f"run{k}: {n} snapshots in {seconds:.0f} s")


def _qemu_version(qemu: str) -> str:
    r = subprocess.run([qemu, "--version"], capture_output=True, text=True, check=False)
    return (r.stdout.splitlines() or ["unknown"])[0]


def run_lab(cfg: LabConfig, log: Callable[[str], None]) -> Path:
    """Run every run of cfg; returns the results directory (cfg.out, created)."""
    sc = scenario(cfg.scenario)
    qemu = need_tool("qemu-system-x86_64", "to boot the guest")
    base = initramfs.build_base(cfg.cache, cfg.kernel, sc.disk)
    accel, why = choose_accel(cfg.accel, cfg.cache, cfg.kernel.vmlinuz, base)
    params = guest_params(cfg.scenario, cfg.memory_mib, cfg.nodes, cfg.duration_seconds,
                          cfg.interval_seconds, cfg.thp_defrag)
    try:
        cfg.out.mkdir(parents=True, exist_ok=False)
    except OSError as err:
        raise InputError(f"{cfg.out}: cannot create the results directory: {err.strerror}",
                         hint="-o DIR names a directory to create results in") from None
    (cfg.out / "profiles").mkdir()
    for p in cfg.profiles:
        (cfg.out / "profiles" / f"{p.name}.conf").write_text(p.text)
    order = run_order(cfg.profiles, cfg.runs)
    lab = {"schema": LAB_FORMAT, "scenario": cfg.scenario, "summary": sc.summary, "params": params,
           "memory_mib": cfg.memory_mib, "nodes": cfg.nodes, "runs_per_profile": cfg.runs,
           "profiles": [{"name": p.name, "source": p.source,
                         "settings": [{"path": s, "value": v, "ignore_failure": i} for s, v, i in p.settings]}
                        for p in cfg.profiles],
           "order": [p.name for p in order], "accel": accel, "accel_reason": why,
           "kernel": {"image": str(cfg.kernel.vmlinuz), "release": cfg.kernel.release,
                      "origin": cfg.kernel.origin},
           "qemu": _qemu_version(qemu), "append": APPEND, "started": _utc_now()}
    (cfg.out / "lab.json").write_text(json.dumps(lab, indent=2) + "\n")
    log(f"{cfg.scenario}: {len(order)} runs on {cfg.kernel.release} ({accel}: {why}) -> {cfg.out}")
    for k, profile in enumerate(order, 1):
        _one_run(cfg, profile, k, base, accel, params, log)
    return cfg.out
