"""`memstall fleet`: which hosts, of those exporting memstall metrics to Prometheus, are in trouble.

Wiring and I/O: the period's series through Prometheus's HTTP API (query_range, stdlib urllib)
for outputs/fleet_rules.py to run the rules over, and a few instant queries for the fleet-wide
view; outputs/fleet.py ranks the hosts and renders them (docs/exporter.md#fleet).
"""

from __future__ import annotations

import argparse
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from memstall.errors import InputError

_DURATION = re.compile(r"^[1-9]\d{0,5}[smhdw]$")
TIMEOUT_SECONDS = 30.0


def duration(text: str) -> str:
    """A Prometheus range duration such as 90s, 30m, 6h, 7d (one unit)."""
    if not _DURATION.match(text):
        raise argparse.ArgumentTypeError(f"expected a duration such as 30m, 6h or 7d, got {text!r}")
    return text


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "fleet", parents=[common], help="rank the hosts a Prometheus scrapes by memory trouble",
        description="Ask Prometheus for the series of every host running `memstall exporter` over "
                    "--since, run memstall's rules over each host's samples (those the exported "
                    "series can feed: docs/exporter.md), and rank the hosts by the worst finding "
                    "and the time spent in trouble, with the fleet-wide view: hosts below the low "
                    "watermark, vm sysctls that differ.")
    p.add_argument("--prometheus", required=True, metavar="URL",
                   help="the Prometheus server, e.g. http://prometheus:9090")
    p.add_argument("--since", type=duration, default="6h", metavar="DURATION",
                   help="the period to look at (default: 6h)")
    p.add_argument("--points", type=int, default=120, metavar="N",
                   help="samples per host the rules run on, evenly over --since (default: 120; "
                        "the step is never below 1 s)")
    p.set_defaults(handler=run)


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(since: str) -> int:
    return int(since[:-1]) * _UNIT_SECONDS[since[-1]]


def _get(base: str, path: str, params: dict[str, str], promql: str) -> dict[str, Any]:
    """One API call; errors are one line naming the server."""
    url = f"{base.rstrip('/')}{path}?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as resp:
            doc = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise InputError(f"{base}: HTTP {err.code} for query {promql!r}",
                         hint="is this a Prometheus server?") from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise InputError(f"{base}: cannot reach Prometheus: {reason}",
                         hint="pass --prometheus http://HOST:9090") from err
    except ValueError as err:
        raise InputError(f"{base}: the answer is not JSON: is this a Prometheus server?") from err
    if not isinstance(doc, dict) or doc.get("status") != "success":
        why = doc.get("error") if isinstance(doc, dict) else doc
        raise InputError(f"{base}: query {promql!r} failed: {why}")
    data = doc.get("data", {})
    return data if isinstance(data, dict) else {}


def query(base: str, promql: str) -> list[dict[str, Any]]:
    """One instant query: its vector."""
    data = _get(base, "/api/v1/query", {"query": promql}, promql)
    return list(data.get("result", [])) if data.get("resultType") == "vector" else []


def query_range(base: str, promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    """One range query: its matrix."""
    params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:.3f}"}
    data = _get(base, "/api/v1/query_range", params, promql)
    return list(data.get("result", [])) if data.get("resultType") == "matrix" else []


def run(args: argparse.Namespace, io: Any) -> int:
    if not args.prometheus.startswith(("http://", "https://")):
        raise InputError(f"--prometheus {args.prometheus!r}: expected an http:// or https:// URL")
    if args.points < 2:
        raise InputError(f"--points {args.points}: the rules need at least 2 samples per host")
    from memstall.outputs.fleet import build_fleet, fleet_doc, fleet_queries, fleet_text
    from memstall.outputs.fleet_rules import SERIES_QUERIES, run_fleet
    from memstall.outputs.render.jsonout import dumps

    end = time.time()
    step = max(1.0, seconds(args.since) / (args.points - 1))
    series = {name: query_range(args.prometheus, q, end - seconds(args.since), end, step)
              for name, q in SERIES_QUERIES.items()}
    results = {name: query(args.prometheus, q) for name, q in fleet_queries(args.since).items()}
    fleet = build_fleet(results, run_fleet(series))
    if args.format == "json":
        io.stdout.write(dumps(fleet_doc(fleet, args.prometheus, args.since)))
    else:
        io.stdout.write(fleet_text(fleet, args.prometheus, args.since))
    return 0
