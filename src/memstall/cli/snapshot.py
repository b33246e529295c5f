"""`memstall snapshot -o FILE.tar.gz|DIR`: capture exactly the files memstall reads.

The capture is the fixture format (tests/fixtures/README.md), so a user's bug report
becomes a test case without conversion. MANIFEST.json is documented in docs/json.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from typing import Any

from memstall import __version__
from memstall.cli.args import seconds
from memstall.collect import read_manifest
from memstall.collect.registry import hint_for, sample_paths, snapshot_paths
from memstall.outputs.render.jsonout import dumps
from memstall.sources import open_root
from memstall.sources.base import Source
from memstall.sources.capture import (
    HostInfo,
    capture,
    capture_manifest,
    check_samples,
    check_target,
    write_capture,
)


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "snapshot", parents=[common], help="capture the files memstall reads into a tarball",
        description="Copy exactly the kernel files memstall reads (buddyinfo, zoneinfo, "
                    "vmstat, sysctls, ...) plus a MANIFEST.json into a tarball or a directory. "
                    "The hostname is left out unless --keep-hostname is given.")
    p.add_argument("-o", "--output", metavar="PATH", default=None,
                   help="a new FILE.tar.gz (.tar, .tgz, .tar.xz, .tar.bz2) or a new or empty "
                        "directory; never overwritten "
                        "(default: memstall-snapshot-<UTC time>.tar.gz here)")
    p.add_argument("--samples", type=int, default=1, metavar="N",
                   help="store the changing files N times, for rates (default: 1)")
    p.add_argument("--interval", type=seconds, default=1.0, metavar="S",
                   help="seconds between samples (default: 1)")
    p.add_argument("--keep-hostname", action="store_true",
                   help="record the hostname in the manifest (left out by default)")
    p.add_argument("--shows", default="", metavar="TEXT",
                   help="one line saying what the capture shows, stored in the manifest")
    p.set_defaults(handler=run)


def _host_info(source: Source, keep_hostname: bool) -> HostInfo:
    if source.is_live:
        uname = os.uname()
        return HostInfo(arch=uname.machine, page_size=os.sysconf("SC_PAGE_SIZE"),
                        hostname=uname.nodename if keep_hostname else None, version=__version__,
                        clock_ticks_per_second=os.sysconf("SC_CLK_TCK"))
    # Re-capturing a capture or a sosreport: keep what its own manifest knew.
    old = read_manifest(source) or {}

    def recorded(key: str, kind: type) -> Any:
        value = old.get(key)
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    return HostInfo(arch=recorded("arch", str), page_size=recorded("page_size", int),
                    hostname=recorded("hostname", str) if keep_hostname else None,
                    version=__version__,
                    clock_ticks_per_second=recorded("clock_ticks_per_second", int))


def run(args: argparse.Namespace, io: Any) -> int:
    check_samples(args.samples, args.interval)
    source = open_root(args.root)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    target = args.output or f"memstall-snapshot-{now.strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
    check_target(target)  # before the samples: do not make the user wait for a refusal
    host = _host_info(source, args.keep_hostname)
    cap = capture(source, snapshot_paths(), sample_paths(), samples=args.samples,
                  interval_s=args.interval)
    manifest = capture_manifest(cap, host, now.isoformat().replace("+00:00", "Z"),
                                args.samples, args.interval, args.shows)
    write_capture(cap, manifest, target, mtime=time.time())
    if args.format == "json":
        io.stdout.write(dumps({"schema": "memstall.snapshot-result/1", "path": target,
                               "manifest": manifest}))
        return 0
    io.stdout.write(f"wrote {target}: {len(manifest['files'])} files, "
                    f"{len(manifest['unavailable'])} unavailable\n")
    for rel, why in manifest["unavailable"].items():
        hint = hint_for(rel, why)
        io.stderr.write(f"memstall: note: not captured: {rel}: {why}"
                        + (f" ({hint})" if hint else "") + "\n")
    return 0
