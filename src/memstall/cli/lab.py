"""`memstall lab kernels|run|compare`: A/B-test settings in a throw-away QEMU guest."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from typing import Any

from memstall.durable import replacing
from memstall.errors import SourceUnavailable, UsageError
from memstall.lab import tools
from memstall.lab.compare import compare_dir
from memstall.lab.profiles import load_profiles
from memstall.lab.runner import LabConfig, run_lab
from memstall.lab.scenarios import SCENARIOS, THP_DEFRAG_MODES
from memstall.outputs.lab import kernels_text, lab_text
from memstall.outputs.render.jsonout import dumps
from memstall.outputs.report.lab import render_lab


def _report_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--report", metavar="FILE",
                   help="also write the comparison as one self-contained HTML page (charts over time "
                        "with one series per profile, the comparison table, each run's counters)")


def _cache_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", metavar="DIR",
                   help=f"kernels, builds and temporary disks (default: $MEMSTALL_LAB_CACHE or "
                        f"{tools.DEFAULT_CACHE})")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    lab = subparsers.add_parser(
        "lab", parents=[common], help="reproduce a stall in a throw-away QEMU guest and A/B-test settings",
        description="Boot a disposable QEMU guest (KVM when it works, TCG otherwise), drive a memory "
                    "scenario under each sysctl profile, keep every snapshot, and compare the profiles.")
    sub = lab.add_subparsers(dest="lab_command", metavar="ACTION")
    sub.required = True
    k = sub.add_parser("kernels", parents=[common], help="list kernel images the lab can boot",
                       description="List the host's /boot images and the Debian kernels unpacked in "
                                   "the cache; --fetch downloads one with apt-get download.")
    _cache_option(k)
    k.add_argument("--fetch", action="store_true",
                   help=f"apt-get download the kernel {tools.CLOUD_META} depends on (or --package)")
    k.add_argument("--package", metavar="NAME", help="with --fetch: this linux-image-* package")
    k.set_defaults(handler=run_kernels)
    r = sub.add_parser("run", parents=[common], help="run a scenario under each profile and compare",
                       description="Runs alternate between profiles (A B B A ...), one guest boot each. "
                                   "Profiles are sysctl.d files (`memstall tune export` writes one) or "
                                   "'current' (the guest kernel's defaults, nothing changed).")
    r.add_argument("--scenario", required=True, choices=sorted(SCENARIOS), help="the memory pattern")
    r.add_argument("--profile", dest="profiles", action="append", required=True, metavar="current|FILE",
                   help="a profile (repeatable; the first is the baseline)")
    r.add_argument("--runs", type=int, default=3, help="runs per profile (default 3)")
    r.add_argument("--memory", default="1G", help="guest memory, e.g. 1G or 1536M (default 1G)")
    r.add_argument("--nodes", type=int, default=2, help="NUMA nodes, one CPU each (default 2)")
    r.add_argument("--duration", type=int, default=60, metavar="SECONDS",
                   help="bound on each run's timed phase (default 60)")
    r.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                   help="seconds between snapshots (default 2)")
    r.add_argument("--kernel", metavar="VMLINUZ",
                   help="kernel image (default: newest cached, see `lab kernels`)")
    r.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto",
                   help="auto: KVM when /dev/kvm works (a probe boot), else TCG")
    r.add_argument("--thp-defrag", choices=THP_DEFRAG_MODES, help="thp scenario: THP defrag mode")
    r.add_argument("--timeout", type=float, metavar="SECONDS", help="per boot (default 3 x duration + 240)")
    r.add_argument("-o", "--output", default="memstall-lab", metavar="DIR",
                   help="results go to DIR/<scenario>-<UTC time>/ (default ./memstall-lab)")
    _report_option(r)
    _cache_option(r)
    r.set_defaults(handler=run_run)
    c = sub.add_parser("compare", parents=[common], help="recompute the comparison of a results directory")
    c.add_argument("results", metavar="DIR", help="a directory `memstall lab run` wrote")
    _report_option(c)
    c.set_defaults(handler=run_compare)


def run_kernels(args: argparse.Namespace, io: Any) -> int:
    cache = tools.cache_dir(args.cache)
    if args.fetch:
        got = tools.fetch_kernel(cache, args.package)
        io.stderr.write(f"fetched {got.release} into {got.vmlinuz.parent.parent}\n")
    elif args.package:
        raise UsageError("--package goes with --fetch")
    kernels = [{"release": k.release, "origin": k.origin, "image": str(k.vmlinuz),
                "modules": str(k.modules_dir) if k.modules_dir else None} for k in tools.list_kernels(cache)]
    how = tools.how_to_get_a_kernel(cache)
    if args.format == "json":
        io.stdout.write(dumps({"schema": "memstall.lab-kernels/1", "kernels": kernels, "how_to_get": how}))
    else:
        io.stdout.write(kernels_text(kernels, how))
    return 0


def parse_memory_mib(text: str) -> int:
    """'1G', '1536M', '2048' (MiB) -> MiB.

    >>> parse_memory_mib("2G"), parse_memory_mib("768M"), parse_memory_mib("512")
    (2048, 768, 512)
    """
    m = re.fullmatch(r"(\d+)([MmGg]?)", text.strip())
    if not m:
        raise UsageError(f"--memory {text!r}: expected a size such as 1G or 1536M")
    value = int(m.group(1)) * (1024 if m.group(2).lower() == "g" else 1)
    if value < 256:
        raise UsageError(f"--memory {text!r}: the guest needs at least 256M")
    return value


def run_run(args: argparse.Namespace, io: Any) -> int:
    memory_mib = parse_memory_mib(args.memory)
    if args.nodes < 1 or memory_mib // args.nodes < 128:
        raise UsageError(f"--nodes {args.nodes}: each node needs at least 128 MiB of --memory")
    if args.runs < 1 or args.duration < 1 or args.interval <= 0:
        raise UsageError("--runs, --duration and --interval must be positive")
    if args.report and not Path(args.report).absolute().parent.is_dir():
        raise UsageError(f"--report {args.report}: no such directory to write it in")
    profiles = load_profiles(args.profiles)
    cache = tools.cache_dir(args.cache)
    kernel = tools.resolve_kernel(cache, args.kernel)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.output) / f"{args.scenario}-{stamp}"
    cfg = LabConfig(scenario=args.scenario, profiles=tuple(profiles), runs=args.runs, memory_mib=memory_mib,
                    nodes=args.nodes, duration_seconds=args.duration, interval_seconds=args.interval,
                    kernel=kernel, cache=cache, out=out, accel=args.accel, thp_defrag=args.thp_defrag,
                    timeout_seconds=args.timeout)

    def progress(line: str) -> None:
        io.stderr.write(f"memstall lab: {line}\n")
        io.stderr.flush()

    results = run_lab(cfg, progress)
    return _print(results, args, io)


def run_compare(args: argparse.Namespace, io: Any) -> int:
    return _print(Path(args.results), args, io)


def _write_report(path: str, doc: dict[str, Any]) -> None:
    title = f"memstall lab: {doc.get('scenario')}, " + " vs ".join(p["name"] for p in doc["profiles"])
    text = render_lab(doc, title)
    try:
        with replacing(Path(path), 0o644) as f:
            f.write(text.encode("utf-8"))
    except OSError as err:
        raise SourceUnavailable(path, f"cannot write the report ({err.strerror or err})") from None


def _print(results: Path, args: argparse.Namespace, io: Any) -> int:
    doc = compare_dir(results, series=bool(args.report))
    if args.report:
        _write_report(args.report, doc)
    io.stdout.write(dumps(doc) if args.format == "json" else lab_text(doc))
    return 0
