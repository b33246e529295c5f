"""`memstall fleet`: which hosts, of those exporting memstall metrics to Prometheus, are in trouble.

Wiring and I/O: a few instant queries through Prometheus's HTTP API (stdlib urllib), then
outputs/fleet.py ranks the hosts and renders them (docs/exporter.md#fleet).
"""

from __future__ import annotations

import argparse
import json
import re
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
        description="Ask Prometheus for every host running `memstall exporter` and rank them by the "
                    "worst finding seen and the time spent in trouble over --since, with the "
                    "fleet-wide view: hosts below the low watermark, vm sysctls that differ.")
    p.add_argument("--prometheus", required=True, metavar="URL",
                   help="the Prometheus server, e.g. http://prometheus:9090")
    p.add_argument("--since", type=duration, default="6h", metavar="DURATION",
                   help="the period to look at (default: 6h)")
    p.set_defaults(handler=run)


def query(base: str, promql: str) -> list[dict[str, Any]]:
    """One instant query; errors are one line naming the server."""
    url = f"{base.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
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
    return list(data.get("result", [])) if data.get("resultType") == "vector" else []


def run(args: argparse.Namespace, io: Any) -> int:
    if not args.prometheus.startswith(("http://", "https://")):
        raise InputError(f"--prometheus {args.prometheus!r}: expected an http:// or https:// URL")
    from memstall.outputs.fleet import build_fleet, fleet_doc, fleet_queries, fleet_text
    from memstall.outputs.render.jsonout import dumps

    results = {name: query(args.prometheus, q) for name, q in fleet_queries(args.since).items()}
    fleet = build_fleet(results)
    if args.format == "json":
        io.stdout.write(dumps(fleet_doc(fleet, args.prometheus, args.since)))
    else:
        io.stdout.write(fleet_text(fleet, args.prometheus, args.since))
    return 0
