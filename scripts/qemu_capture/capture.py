#!/usr/bin/env python3
"""Boot the two-NUMA-node QEMU (TCG) capture guest and write real snapshots.

    python3 scripts/qemu_capture/capture.py            # build if needed, boot, write fixtures
    python3 scripts/qemu_capture/capture.py --dry-run  # boot and check, write nothing in the repo

The guest (/init from this directory, built by build.sh into $WORK) prints every
captured file base64-encoded between ===BEGIN <state> <path>=== and
===END <state> <path>=== lines on ttyS0. This script decodes them byte-exactly
into tests/fixtures/snapshots/x86_64-<maj.min>-qemu-2node-<state>/<path> (a tree
mirroring the root filesystem) with a MANIFEST.json, and copies the four
back-to-back reads into tests/fixtures/samples/extfrag/qemu-2node-<state>/.
See README.md.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import check_extfrag  # noqa: E402

# Boot variants: kernel command line knobs read by /init, and which states to keep
# under which fixture name.
VARIANTS = {
    # node 0: free every other 4 KiB page; node 1: keep 1 page in 16; both then
    # consume the leftover order>=9 blocks (THP) and order>=4 blocks (pipe arrays)
    "main": {
        "append": "memstall.pattern0=alt memstall.eat0=4 memstall.pattern1=15of16 memstall.eat1=4 "
                  "memstall.states=fresh,fragmented,compacted",
        "states": {"fresh": "fresh", "fragmented": "fragmented", "compacted": "compacted"},
    },
    # only user (anon) memory: node 0 frees 3 of every 4 pages, node 1 every other page;
    # only the leftover order>=9 blocks are consumed (THP), nothing unmovable is added
    "anon": {
        "append": "memstall.pattern0=3of4 memstall.eat0=0 memstall.pattern1=alt memstall.eat1=0 "
                  "memstall.states=fragmented,compacted",
        "states": {"fragmented": "anon-fragmented", "compacted": "anon-compacted"},
    },
}

MARK = re.compile(r"^===(BEGIN|END|SKIP|LOG) (.*)===$")
PAIR_NAMES = {
    "/proc/buddyinfo": "buddyinfo_before",
    "/sys/kernel/debug/extfrag/extfrag_index": "extfrag_index",
    "/sys/kernel/debug/extfrag/unusable_index": "unusable_index",
    "@pair/buddyinfo_after": "buddyinfo_after",
}


def run_qemu(work: str, append: str, mem_mb: int, timeout: int, log_path: str) -> str:
    half = mem_mb // 2
    cmd = [
        "qemu-system-x86_64", "-m", str(mem_mb), "-smp", "2",
        "-object", f"memory-backend-ram,id=m0,size={half}M",
        "-object", f"memory-backend-ram,id=m1,size={mem_mb - half}M",
        "-numa", "node,nodeid=0,memdev=m0,cpus=0",
        "-numa", "node,nodeid=1,memdev=m1,cpus=1",
        "-kernel", os.path.join(work, "vmlinuz"),
        "-initrd", os.path.join(work, "initrd.gz"),
        "-append", f"console=ttyS0 panic=-1 quiet loglevel=1 {append}",
        "-nographic", "-no-reboot",
    ]
    print("+", " ".join(cmd), file=sys.stderr)
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        try:
            subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log,
                           stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            print(f"qemu timed out after {timeout}s (log: {log_path})", file=sys.stderr)
    print(f"qemu ran {time.monotonic() - t0:.0f}s", file=sys.stderr)
    with open(log_path, "rb") as f:
        return f.read().decode("latin-1")


def parse_console(text: str) -> tuple[dict[str, dict[str, bytes]], list[str], list[str]]:
    """Return ({state: {path: bytes}}, log lines, skip lines)."""
    files: dict[str, dict[str, bytes]] = {}
    logs, skips = [], []
    cur = None
    buf: list[str] = []
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        # the console may prefix the first line with terminal escapes
        if "===" in line and not line.startswith("==="):
            line = line[line.index("==="):]
        m = MARK.match(line)
        if m:
            kind, rest = m.groups()
            if kind == "BEGIN":
                cur, buf = rest, []
            elif kind == "END":
                if cur != rest:
                    raise SystemExit(f"console: END {rest!r} does not close {cur!r}")
                state, path = rest.split(" ", 1)
                files.setdefault(state, {})[path] = base64.b64decode("".join(buf), validate=True)
                cur = None
            elif kind == "LOG":
                logs.append(rest)
            else:
                skips.append(rest)
            continue
        if cur is not None:
            line = line.strip()
            if line and not re.fullmatch(r"[A-Za-z0-9+/=]+", line):
                raise SystemExit(f"console: stray text inside {cur!r}: {line[:80]!r}")
            buf.append(line)
    if cur is not None:
        raise SystemExit(f"console: file {cur!r} never ended (guest died?)")
    return files, logs, skips


def nodes_zones_summary(buddy: str, ei: str) -> str:
    """One sentence on where extfrag_index is computed (i.e. not -1.000)."""
    bi = check_extfrag.parse_buddyinfo(buddy)
    idx = check_extfrag.parse_index(ei)
    parts = []
    for key, vals in idx.items():
        comp = [o for o, v in enumerate(vals) if v != "-1.000"]
        if not comp:
            continue
        node, zone = key
        nr = bi.get(key, [])
        lo = min(comp)
        rng = f"orders {lo}-{len(vals) - 1}" if comp == list(range(lo, len(vals))) else \
            "orders " + ",".join(map(str, comp))
        parts.append(f"node {node} {zone} {rng} ({'/'.join(vals[o] for o in comp)}; "
                     f"{sum(nr)} free blocks, {nr[0] if nr else 0} of order 0)")
    if not parts:
        return "every extfrag_index value is -1.000 (a free block of every order exists)"
    return "extfrag_index computed (no free block of that order or larger) for " + "; ".join(parts)


STATE_TEXT = {
    "fresh": "Freshly booted 2-node guest (1 GiB per node, no Normal zone: DMA+DMA32 on node 0, "
             "DMA32 on node 1), nothing allocated yet",
    "fragmented": "Both nodes filled to just above the high watermark by a pinned, node-bound helper, "
                  "then node 0 freed every other 4 KiB page and node 1 kept 1 page in 16, and the "
                  "leftover free blocks of order >= 9 (THP faults) and >= 4 (exact-order kernel "
                  "allocations: pipe_buffer arrays) were consumed; vm.compaction_proactiveness=0 so "
                  "kcompactd does not undo it",
    "compacted": "The fragmented state after compaction_proactiveness back to 20 and one "
                 "echo 1 > /proc/sys/vm/compact_memory, helpers still holding their memory "
                 "(pipe arrays included)",
    "anon-fragmented": "Both nodes filled to just above the high watermark with anonymous 4 KiB pages, "
                       "then node 0 freed 3 of every 4 pages and node 1 every other page; only the "
                       "leftover order >= 9 blocks were consumed (THP faults), no unmovable "
                       "allocations added; vm.compaction_proactiveness=0",
    "anon-compacted": "The anon-fragmented state after compaction_proactiveness back to 20 and one "
                      "echo 1 > /proc/sys/vm/compact_memory",
}


def vmstat_delta(before: bytes, after: bytes, keys: tuple[str, ...]) -> str:
    def parse(b: bytes) -> dict[str, int]:
        return {k: int(v) for k, v in (ln.split() for ln in b.decode().splitlines() if ln.strip())}
    b, a = parse(before), parse(after)
    return ", ".join(f"{k} +{a[k] - b[k]}" for k in keys if k in a and k in b)


def write_state(repo: str, kernel: str, kver: str, state: str, name: str,
                files: dict[str, bytes], captured: str, extra: str = "") -> tuple[str, str]:
    majmin = ".".join(kernel.split(".")[:2])
    snap = os.path.join(repo, "tests", "fixtures", "snapshots", f"x86_64-{majmin}-qemu-2node-{name}")
    sample = os.path.join(repo, "tests", "fixtures", "samples", "extfrag", f"qemu-2node-{name}")
    for d in (snap, sample):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    rel_files = []
    for path, data in sorted(files.items()):
        if path in PAIR_NAMES:
            with open(os.path.join(sample, PAIR_NAMES[path]), "wb") as f:
                f.write(data)
        if path.startswith("@"):
            continue
        rel = path.lstrip("/")
        dst = os.path.join(snap, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(data)
        rel_files.append(rel)
    numa = len({p.split("/")[5] for p in files if p.startswith("/sys/devices/system/node/node")})
    buddy = files["/proc/buddyinfo"].decode()
    ei = files["/sys/kernel/debug/extfrag/extfrag_index"].decode()
    manifest = {
        "format": "memstall.snapshot/1",
        "kernel": kernel,
        "arch": "x86_64",
        "page_size": 4096,
        "numa_nodes": numa,
        "captured": captured,
        "source": f"scripts/qemu_capture (QEMU TCG guest, Debian cloud kernel {kver})",
        "hostname": None,
        "edited": [],
        "shows": f"{STATE_TEXT.get(name, name)}{extra}; {nodes_zones_summary(buddy, ei)}.",
        "files": sorted(rel_files),
    }
    with open(os.path.join(snap, "MANIFEST.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return snap, sample


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.environ.get("WORK", "/var/tmp/memstall-qemu"))
    ap.add_argument("--variants", default="main,anon", help="comma list of: " + ",".join(VARIANTS))
    ap.add_argument("--mem", type=int, default=2048, help="guest MiB, split over the 2 nodes")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per boot")
    ap.add_argument("--repo", default=REPO, help="where tests/fixtures/ is written")
    ap.add_argument("--dry-run", action="store_true", help="boot, decode and check, write no fixtures")
    ap.add_argument("--rebuild", action="store_true", help="run build.sh even if artefacts exist")
    args = ap.parse_args()

    need = [os.path.join(args.work, n) for n in ("vmlinuz", "initrd.gz", "kernel-version")]
    if args.rebuild or not all(os.path.exists(p) for p in need):
        subprocess.run(["bash", os.path.join(HERE, "build.sh")], check=True,
                       env=dict(os.environ, WORK=args.work))
    with open(os.path.join(args.work, "kernel-version")) as f:
        kver = f.read().strip()

    ok = True
    for variant in args.variants.split(","):
        spec = VARIANTS[variant]
        log_path = os.path.join(args.work, f"console-{variant}.log")
        captured = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        text = run_qemu(args.work, spec["append"], args.mem, args.timeout, log_path)
        files, logs, skips = parse_console(text)
        for line in logs:
            print(f"[{variant}] guest: {line}")
        for line in skips:
            print(f"[{variant}] skipped: {line}")
        if "dmesg" in files:
            with open(os.path.join(args.work, f"dmesg-{variant}.txt"), "wb") as f:
                f.write(files["dmesg"]["/dmesg"])
        for state, name in spec["states"].items():
            if state not in files:
                print(f"[{variant}] state {state} missing from the console output", file=sys.stderr)
                ok = False
                continue
            st = files[state]
            kernel = st["/proc/sys/kernel/osrelease"].decode().strip()
            r = check_extfrag.check_texts(
                st["/proc/buddyinfo"].decode(), st["/sys/kernel/debug/extfrag/extfrag_index"].decode(),
                st["/sys/kernel/debug/extfrag/unusable_index"].decode(),
                st["@pair/buddyinfo_after"].decode())
            print(f"[{variant}] {name}: {len(st)} files, readpair {st['@pair/attempts'].decode().strip()}, "
                  f"{r['matched']}/{r['compared']} index values match recomputation, extfrag computed "
                  f"{r['computed_matched']}/{r['computed']}, negative {r['negative']}")
            if r["stable"] and r["mismatches"]:
                ok = False
                for m in r["mismatches"][:10]:
                    print("   mismatch:", m)
            extra = ""
            if state == "compacted" and "fragmented" in files:
                extra = " (vmstat since the fragmented capture: " + vmstat_delta(
                    files["fragmented"]["/proc/vmstat"], st["/proc/vmstat"],
                    ("compact_migrate_scanned", "compact_free_scanned", "compact_isolated")) + ")"
            if not args.dry_run:
                snap, sample = write_state(args.repo, kernel, kver, state, name, st, captured, extra)
                print(f"   wrote {os.path.relpath(snap, args.repo)} and {os.path.relpath(sample, args.repo)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
