"""`memstall whatif --set vm.watermark_scale_factor=500`: watermarks before and after."""

from __future__ import annotations

import argparse
from typing import Any

from memstall.analysis.sysctl_limits import as_int, validate
from memstall.analysis.whatif import SETTINGS, WhatIfUnavailable, what_if
from memstall.collect import load_state
from memstall.errors import InputError, UsageError
from memstall.model.sysctl_name import SettingError, parse_setting, sysctl_name
from memstall.outputs.render.jsonout import dumps
from memstall.outputs.whatif import whatif_doc, whatif_text
from memstall.pipeline.log_inputs import inputs_from_log
from memstall.pipeline.root_inputs import one_source
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
    """`vm.watermark_scale_factor=500` (the `vm.` may be left out) -> {full name: value}.

    One parser for every --set (model/sysctl_name.parse_setting); values in ASCII digits.

    >>> parse_settings(["watermark_scale_factor=500", "vm/min_free_kbytes = 90112"])
    {'vm.watermark_scale_factor': 500, 'vm.min_free_kbytes': 90112}
    """
    out: dict[str, int] = {}
    expected = f"expected NAME=VALUE with NAME one of {', '.join(SETTINGS)}"
    for item in items:
        try:
            key, value = parse_setting(item)
        except SettingError:
            raise UsageError(f"--set {item!r}: {expected}") from None
        full = sysctl_name(key if key.startswith("vm/") else "vm/" + key)
        if full not in SETTINGS:
            raise UsageError(f"--set {item!r}: {expected}")
        number = as_int(value)
        if number is None:
            raise UsageError(f"--set {item!r}: {full} takes one integer")
        out[full] = number
    return out


def run(args: argparse.Namespace, io: Any) -> int:
    one_source(args.log, args.root)
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
