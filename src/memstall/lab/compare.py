"""The comparison of a results directory: per profile and metric, mean and spread over
runs, the change against the first profile (the baseline) in %, and a Mann-Whitney U
test on the per-run values (stats.py). Pure over the recorded files: `memstall lab
compare DIR` recomputes it from what `lab run` kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memstall.errors import InputError
from memstall.lab.metrics import METRICS, read_run
from memstall.lab.stats import mann_whitney_u, mean, min_exact_p, stdev

ALPHA = 0.05


@dataclass(frozen=True)
class RunValues:
    run: int
    profile: str
    values: dict[str, float | None]
    series: dict[str, list[float | None]] | None = None
    """Per snapshot (metrics.state_series): kept when the report is asked for."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise InputError(f"{path}: {err.strerror}",
                         hint="give a directory `memstall lab run` wrote") from None
    except ValueError as err:
        raise InputError(f"{path}: not JSON ({err})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def load_results(results: Path, series: bool = False) -> tuple[dict[str, Any], list[RunValues]]:
    """lab.json and the metrics of every finished run (a run without snapshots is an error);
    with `series`, each run's per-snapshot series too."""
    lab = _read_json(results / "lab.json")
    runs = []
    for k, profile in enumerate(lab.get("order", []), 1):
        run_dir = results / f"run{k}"
        if not run_dir.is_dir():
            continue  # an interrupted lab: compare what finished
        values, per_snapshot = read_run(run_dir)
        runs.append(RunValues(k, str(profile), values, per_snapshot if series else None))
    if not runs:
        raise InputError(f"{results}: no finished runs", hint="run `memstall lab run` first")
    return lab, runs


def _summary(xs: list[float]) -> dict[str, Any]:
    return {"n": len(xs), "mean": mean(xs), "stdev": stdev(xs),
            "min": min(xs) if xs else None, "max": max(xs) if xs else None}


def _versus(base: list[float], other: list[float], better: str) -> dict[str, Any]:
    mb, mo = mean(base), mean(other)
    change = None if mb is None or mb == 0 or mo is None else (mo - mb) / abs(mb) * 100
    test = mann_whitney_u(other, base)
    significant = test is not None and test.p_value < ALPHA
    direction = "same"
    if mb is not None and mo is not None and mo != mb:
        direction = "better" if (mo < mb) == (better == "lower") else "worse"
    return {"change_pct": change, "u": test.u if test else None, "p_value": test.p_value if test else None,
            "method": test.method if test else None, "significant": significant, "direction": direction}


def compare(lab: dict[str, Any], runs: list[RunValues]) -> dict[str, Any]:
    names = [p["name"] for p in lab.get("profiles", [])] or sorted({r.profile for r in runs})
    baseline = names[0]
    metrics = []
    for m in METRICS:
        per = {n: [v for r in runs if r.profile == n and (v := r.values.get(m.name)) is not None]
               for n in names}
        if not any(per.values()):
            continue  # this kernel or scenario has no such number
        metrics.append({
            "name": m.name, "label": m.label, "unit": m.unit, "better": m.better,
            "profiles": {n: _summary(per[n]) for n in names},
            "versus_baseline": {n: _versus(per[baseline], per[n], m.better) for n in names[1:]},
        })
    counts = [sum(1 for r in runs if r.profile == n) for n in names]
    return {
        "schema": "memstall.lab/1",
        "scenario": lab.get("scenario"), "summary": lab.get("summary"),
        "kernel": lab.get("kernel"), "qemu": lab.get("qemu"), "accel": lab.get("accel"),
        "memory_mib": lab.get("memory_mib"), "nodes": lab.get("nodes"), "params": lab.get("params"),
        "order": lab.get("order"), "baseline": baseline,
        "test": {"name": "Mann-Whitney U, two-sided", "alpha": ALPHA,
                 "min_p_possible": min_exact_p(min(counts), max(counts)) if min(counts) else None},
        "profiles": [{"name": n, "settings": next((p.get("settings", []) for p in lab.get("profiles", [])
                                                   if p["name"] == n), []),
                      "runs": [_run_entry(r) for r in runs if r.profile == n]} for n in names],
        "metrics": metrics,
    }


def _run_entry(r: RunValues) -> dict[str, Any]:
    entry: dict[str, Any] = {"run": r.run, "dir": f"run{r.run}", "metrics": r.values}
    if r.series is not None:
        entry["series"] = r.series
    return entry


def compare_dir(results: Path, series: bool = False) -> dict[str, Any]:
    """The comparison of a results directory; `series`: each run's per-snapshot series too
    (profiles[].runs[].series, for `--report`)."""
    lab, runs = load_results(results, series)
    doc = compare(lab, runs)
    doc["results"] = str(results)
    return doc
