"""`memstall whatif --set vm.watermark_scale_factor=500`: watermarks before and after."""

from __future__ import annotations

import argparse
from typing import Any

from memstall.analysis.sysctl_limits import normalize_name, validate
from memstall.analysis.whatif import SETTINGS, WhatIfUnavailable, what_if
from memstall.cli.diagnose import inputs_from_log, one_source
from memstall.collect import load_state
from memstall.errors import InputError, UsageError
from memstall.outputs.render.jsonout import dumps
from memstall.outputs.whatif import whatif_doc, whatif_text
from memstall.sources import open_root


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "whatif", parents=[common],
        help="predict the watermarks and free band of new min_free_kbytes/watermark_scale_factor",
        description="Compute, per node and zone, min/low/high before and after a change of "
                    "vm.watermark_scale_factor and/or vm.min_free_kbytes, the free band kswapd "
                    "holds (low->high), and the share of RAM no longer available to the page cache.")
    p.add_argument("--set", dest="settings", action="append", required=True, metavar="NAME=VALUE",
                   help="vm.watermark_scale_factor=N or vm.min_free_kbytes=N (repeatable)")
    p.add_argument("--log", metavar="FILE",
                   help="use the Mem-Info of a kernel log instead of --root (zones it does not "
                        "print are estimated and marked)")
    p.set_defaults(handler=run)


def parse_settings(items: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        full = normalize_name(name)
        if not full.startswith("vm."):
            full = "vm." + full
        if not sep or full not in SETTINGS:
            raise UsageError(f"--set {item!r}: expected NAME=VALUE with NAME one of {', '.join(SETTINGS)}")
        try:
            out[full] = int(value.strip())
        except ValueError:
            raise UsageError(f"--set {item!r}: {full} takes one integer") from None
    return out


def run(args: argparse.Namespace, io: Any) -> int:
    one_source(args)
    changes = parse_settings(args.settings)
    managed_total: int | None = None
    if args.log:
        inputs, _, managed_total = inputs_from_log(args.log)
        state, label = inputs.state, args.log
        kernel = inputs.kernel or state.kernel
    else:
        state = load_state(open_root(args.root), needs=("zoneinfo",))
        label, kernel = state.source, state.kernel
    for name, value in changes.items():
        problem = validate(name, value, kernel)
        if problem:
            raise UsageError(problem)
    try:
        result = what_if(state, changes, kernel, managed_total)
    except WhatIfUnavailable as err:
        raise InputError(f"{label}: {err}") from None
    if args.format == "json":
        io.stdout.write(dumps(whatif_doc(result, state.notes)))
    else:
        sets = " ".join(f"{k}={v}" for k, v in changes.items())
        title = f"memstall whatif {sets}: {label} (kernel {kernel or 'unknown'})"
        io.stdout.write(whatif_text(result, title, state.notes))
    return 0
