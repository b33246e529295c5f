"""`memstall lab` output: the memstall.lab/1 comparison as text, and the kernel listing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from memstall.outputs.render.table import render_table

SCHEMA = "memstall.lab/1"


def number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    if unit == "us":
        return f"{value / 1000:.2f} ms"
    if unit == "seconds":
        return f"{value:.3f} s"
    return f"{value:.1f}" if value != int(value) else f"{value:.0f}"


def _cell(summary: Mapping[str, Any], unit: str) -> str:
    if not summary.get("n"):
        return "-"
    text = number(summary["mean"], unit)
    if summary.get("stdev") is not None:
        text += f" ± {number(summary['stdev'], unit).split(' ')[0]}"
    return text


def _versus(v: Mapping[str, Any]) -> tuple[str, str]:
    change = "-" if v["change_pct"] is None else f"{v['change_pct']:+.1f}%"
    if v["p_value"] is None:
        return change, "-"
    mark = "*" if v["significant"] else ""
    return change, f"{v['p_value']:.3f}{mark} {v['direction']}"


def lab_text(doc: Mapping[str, Any]) -> str:
    profiles = [p["name"] for p in doc["profiles"]]
    base = doc["baseline"]
    kernel = doc.get("kernel") or {}
    runs = {p["name"]: len(p["runs"]) for p in doc["profiles"]}
    head = [f"memstall lab: scenario {doc['scenario']} on {kernel.get('release', '?')} "
            f"({doc.get('accel')}), {doc.get('memory_mib')} MiB, {doc.get('nodes')} NUMA node(s)",
            "runs: " + ", ".join(f"{n} x{runs[n]}" for n in profiles)
            + (f"; order {' '.join(doc['order'])}" if doc.get("order") else "")]
    if doc.get("results"):
        head.append(f"results: {doc['results']}")
    test = doc["test"]
    head.append(f"cells: mean ± standard deviation over runs. change: against {base}; p: "
                f"{test['name']} on the per-run values (* p < {test['alpha']})")
    if len(profiles) > 1 and test.get("min_p_possible") is not None \
            and test["min_p_possible"] >= test["alpha"]:
        head.append(f"note: with these run counts no p below {test['min_p_possible']:.3f} is possible; "
                    "use --runs 4 or more for a test that can reach p < 0.05")
    headers = ["metric", *profiles]
    for other in profiles[1:]:
        headers += [f"{other} change", f"{other} p"]
    rows: list[Sequence[object]] = []
    for m in doc["metrics"]:
        row: list[object] = [m["label"], *(_cell(m["profiles"][n], m["unit"]) for n in profiles)]
        for other in profiles[1:]:
            row += list(_versus(m["versus_baseline"][other]))
        rows.append(row)
    return "\n".join(head) + "\n\n" + render_table(headers, rows)


def kernels_text(kernels: Sequence[Mapping[str, Any]], how: str) -> str:
    if not kernels:
        return f"no kernel image found.\nget one: {how}\n"
    rows = [[k["release"], k["origin"], k["image"], "yes" if k["modules"] else "no"] for k in kernels]
    table = render_table(["release", "origin", "image", "modules"], rows)
    return table + f"\nthe lab boots the newest cached image unless --kernel says otherwise.\nmore: {how}\n"
