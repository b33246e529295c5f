"""`memstall tune`: plan, transaction, history and verify as text or JSON documents.

Schemas: memstall.tune.plan/1, memstall.tune.tx/1 (the record as stored), memstall.tune.history/1,
memstall.tune.verify/1. Renderers never print; the CLI writes what they return.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from memstall.advice.tuning import Change, Plan
from memstall.analysis.sysctl_origin import PrecedenceNote
from memstall.analysis.whatif import ZoneChange
from memstall.model.sysctl_conf import swap_separators
from memstall.model.tuning import Tx, VerifyReport
from memstall.outputs.render.table import render_table

Doc = dict[str, Any]


def _status(c: Change, force: bool) -> str:
    hard = [r for r in c.refusals if not r.forceable]
    if hard:
        return "REFUSED"
    if c.refusals:
        return "FORCED" if force else "REFUSED (--force)"
    return "unchanged" if c.unchanged else "change"


def plan_doc(plan: Plan, force: bool, notes: Sequence[PrecedenceNote] = ()) -> Doc:
    return {
        "schema": "memstall.tune.plan/1", "root": plan.root, "kernel": plan.kernel_release,
        "changes": [{"name": c.name, "current": c.current, "proposed": c.proposed,
                     "status": _status(c, force), "rationale": c.rationale, "effect": c.effect,
                     "risk": c.risk, "refusals": [{"reason": r.reason, "forceable": r.forceable}
                                                  for r in c.refusals]} for c in plan.changes],
        "watermarks": [_zone_doc(e) for e in plan.watermarks],
        "precedence": [{"kind": n.kind, "path": n.path, "line": n.line_no, "message": n.message}
                       for n in notes],
        "notes": list(plan.notes),
    }


def _zone_doc(e: ZoneChange) -> Doc:
    def marks(w: Any) -> Doc:
        return {"min_pages": w.min_pages, "low_pages": w.low_pages, "high_pages": w.high_pages}
    return {"node": e.node, "zone": e.zone, "free_pages": e.free_pages,
            "before": marks(e.before), "after": marks(e.after)}


def _arrow(a: int, b: int) -> str:
    return str(a) if a == b else f"{a} -> {b}"


def plan_text(plan: Plan, force: bool, notes: Sequence[PrecedenceNote] = ()) -> str:
    kernel = plan.kernel_release or "unknown kernel"
    out = [f"memstall tune plan for {plan.root} ({kernel}). Nothing is written by a plan.", ""]
    rows = [(c.name, c.current, c.proposed, _status(c, force)) for c in plan.changes]
    out.append(render_table(("setting", "current", "proposed", "status"), rows).rstrip())
    for c in plan.changes:
        out += ["", f"{c.name}: {c.rationale}"]
        out += [f"  effect: {c.effect}"] if c.effect else []
        out += [f"  risk: {c.risk}"] if c.risk else []
        out += [f"  refused: {r}" for r in c.refusals]
    if plan.watermarks:
        wrows = [(e.subject, e.free_pages,
                  _arrow(e.before.min_pages, e.after.min_pages),
                  _arrow(e.before.low_pages, e.after.low_pages),
                  _arrow(e.before.high_pages, e.after.high_pages),
                  _arrow(e.before.high_pages - e.before.low_pages, e.after.high_pages - e.after.low_pages))
                 for e in plan.watermarks]
        out += ["", render_table(("zone", "free", "min", "low", "high", "low->high band"), wrows,
                                 title="Predicted watermarks (pages, boost excluded):").rstrip()]
    if notes:
        out += ["", "At boot (etc/sysctl.d precedence):"]
        out += [f"  {'warning' if n.is_warning else 'note'}: {n.message}" for n in notes]
    out += [f"note: {n}" for n in plan.notes]
    return "\n".join(out) + "\n"


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(epoch))


def tx_doc(tx: Tx) -> Doc:
    return {"schema": "memstall.tune.tx/1", **asdict(tx)}


def _change_text(tx: Tx) -> str:
    return ", ".join(f"{swap_separators(c.key)} {c.before_text} -> {c.after}" for c in tx.written) or "-"


def applied_text(tx: Tx, notes: Sequence[PrecedenceNote] = ()) -> str:
    out = [f"applied transaction {tx.id}: {_change_text(tx)} (each value read back and checked)"]
    if tx.persist:
        out.append(f"persisted to {tx.persist.path}")
    out += [f"warning: {n.message}" for n in notes if n.is_warning]
    if tx.revert:
        out.append(f"automatic rollback at {_when(tx.revert.deadline)} ({tx.revert.seconds}s) by a "
                   f"{tx.revert.mechanism} ({tx.revert.handle}) unless you run: "
                   f"memstall tune confirm {tx.id}")
    out.append(f"undo: memstall tune rollback {tx.id}")
    return "\n".join(out) + "\n"


def rollback_text(tx: Tx, restored: Sequence[str], drop_in: str | None) -> str:
    out = [f"rolled back transaction {tx.id}: restored " + (", ".join(restored) or "nothing")]
    if drop_in:
        out.append(drop_in)
    return "\n".join(out) + "\n"


def history_doc(txs: Sequence[Tx]) -> Doc:
    return {"schema": "memstall.tune.history/1", "transactions": [asdict(t) for t in txs]}


def history_text(txs: Sequence[Tx]) -> str:
    if not txs:
        return "no transactions yet\n"
    rows = []
    for t in txs:
        extra = []
        if t.persist:
            extra.append("persisted")
        if t.revert:
            extra.append("confirmed" if t.revert.confirmed else f"revert-after {t.revert.seconds}s")
        rows.append((t.id, _when(t.created), t.status, _change_text(t), ", ".join(extra) or "-"))
    return render_table(("id", "created", "status", "changes", "notes"), rows)


def verify_doc(report: VerifyReport) -> Doc:
    return {"schema": "memstall.tune.verify/1", "drifted": report.drifted,
            "problems": list(report.problems),
            "keys": [{"name": k.name, "applied": k.applied, "transaction": k.tx_id, "running": k.running,
                      "boot": k.boot, "boot_from": k.boot_from, "problems": list(k.problems)}
                     for k in report.keys]}


def verify_text(report: VerifyReport) -> str:
    if not report.keys and not report.problems:
        return "memstall manages no setting here (no applied transaction, no 90-memstall.conf)\n"
    rows = [(k.name, k.applied, k.running, k.boot, k.boot_from) for k in report.keys]
    out = [render_table(("setting", "applied", "running", "at boot", "boot from"), rows).rstrip()]
    out += [f"drift: {k.name}: {p}" for k in report.keys for p in k.problems]
    out += [f"drift: {p}" for p in report.problems]
    if not report.drifted:
        out.append("no drift: running and boot values match what memstall applied")
    return "\n".join(out) + "\n"
