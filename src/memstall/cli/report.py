"""`memstall report`: one self-contained HTML page, from a record database (`--db`, a time
range with --from/--to) or for one moment (`--root SNAPSHOT`, `--log FILE`). Wiring only.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path
from typing import Any

from memstall.advice.recommend import recommend
from memstall.cli.args import time_ms as _time
from memstall.errors import InputError, SourceUnavailable, UsageError
from memstall.outputs.report import render_history, render_moment
from memstall.pipeline import inputs_from_log, inputs_from_root
from memstall.rules import run_rules
from memstall.store import Db, bounds, read_history, read_trace
from memstall.store.db import translated
from memstall.store.read import count_points, iter_points


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "report",
        parents=[common],
        help="write a self-contained HTML report",
        description="From a `memstall record` database: free memory against the watermarks, free blocks "
        "and fragmentation by order, reclaim/compaction rates, PSI, log reports and tune "
        "transactions (with before/after tables) over time, and the findings. With --root "
        "or --log instead of --db: the same for one moment. One HTML file, nothing external.",
    )
    p.add_argument("--db", metavar="FILE", help="a database written by `memstall record`")
    p.add_argument(
        "--from",
        dest="from_",
        metavar="TIME",
        help="start of the period: ISO date/time (UTC unless it says), or a time before the end "
        "written --from=-2h (also -30m, -1d)",
    )
    p.add_argument("--to", metavar="TIME", help="end of the period (default: the last sample)")
    p.add_argument("--log", metavar="FILE", help="one-moment report of a kernel log's Mem-Info and reports")
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the HTML file to write ('-': stdout)"
    )
    p.set_defaults(handler=run)


def _write(path: str, text: str, io: Any) -> None:
    if path == "-":
        io.stdout.write(text)
        return
    tmp = Path(f"{path}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise SourceUnavailable(path, f"cannot write the report ({err.strerror or err})") from None


def _history_page(args: argparse.Namespace) -> str:
    db = Db(args.db, write=False)
    try:
        span = bounds(db)
        if span is None:
            raise InputError(
                f"{args.db}: holds no samples yet", hint="record some with `memstall record --db`"
            )
        to_ms = _time(args.to, "--to", span[1]) if args.to else span[1]
        from_ms = _time(args.from_, "--from", to_ms) if args.from_ else span[0]
        if from_ms == to_ms and not (args.from_ or args.to):
            to_ms += 1  # one sample: a period of one millisecond
        if from_ms >= to_ms:
            raise UsageError(f"--from is not before --to ({from_ms} >= {to_ms} ms)")
        history = read_history(db, from_ms, to_ms, max_points=0)  # the samples: one at a time, below
        count = count_points(db, from_ms, to_ms)
        if not count and not history.events:
            raise InputError(
                f"{args.db}: no samples between the times given",
                hint="the database covers "
                + f"{datetime.datetime.utcfromtimestamp(span[0] / 1000):%Y-%m-%dT%H:%M:%S} to "
                + f"{datetime.datetime.utcfromtimestamp(span[1] / 1000):%Y-%m-%dT%H:%M:%S} UTC",
            )
        with translated(args.db):
            return render_history(
                history, f"memstall report: {Path(args.db).name}", iter_points(db, from_ms, to_ms), count,
                read_trace(db, from_ms, to_ms),
            )
    finally:
        db.close()


def run(args: argparse.Namespace, io: Any) -> int:
    given = [
        f for f, v in (("--db", args.db), ("--log", args.log), ("--root", args.root != "/" or None)) if v
    ]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)}: give one source")
    if (args.from_ or args.to) and not args.db:
        raise UsageError("--from and --to select a period of a --db")
    if args.db:
        text = _history_page(args)
    else:
        if args.log:
            inputs, how, managed = inputs_from_log(args.log)
            label = args.log
        else:
            inputs, how = inputs_from_root(args.root, 1.0)
            managed, label = None, inputs.state.source
        report = run_rules(inputs)
        text = render_moment(
            inputs, report, recommend(report, inputs, managed), f"memstall report: {label}", how
        )
    _write(args.output, text, io)
    if args.output != "-":
        print(
            f"memstall report: wrote {args.output} ({len(text.encode()) // 1024} KiB)",
            file=io.stderr if hasattr(io, "stderr") else sys.stderr,
        )
    return 0


__all__ = ["register", "run"]
