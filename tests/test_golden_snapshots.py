"""Golden outputs: `show <every view> --format json` on every fixture, compared exactly.

Every directory in fixtures/snapshots/ (and every sosreport in fixtures/sosreports/) is a
test case: adding a capture adds tests. Goldens live in <fixture>/expected/:
`<view>.json` for a view that works, `<view>.error.txt` (exit code + stderr) for one that
fails (no PSI on 4.9, no debugfs...). Rewrite them with `pytest --update-golden` and
review the diff. Every fixture must hold a golden for every view: a capture added without
its goldens fails (it is not skipped) until they are generated and reviewed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from memstall.cli.show import VIEWS


def _roots() -> list[tuple[str, Path, Path]]:
    """(id, --root path, expected/ dir) for every fixture."""
    out = []
    for d in sorted((FIXTURES / "snapshots").glob("*")):
        if d.is_dir():
            out.append((d.name, d, d / "expected"))
    for d in sorted((FIXTURES / "sosreports").glob("*")):
        inner = sorted(d.glob("sosreport-*"))
        if d.is_dir() and inner:
            out.append((f"sos/{d.name}", inner[0], d / "expected"))
    return out


CASES = [(fid, root, exp, what) for fid, root, exp in _roots() for what in VIEWS]


def test_there_are_fixtures() -> None:
    names = {fid for fid, _, _ in _roots()}
    assert {"x86_64-6.18-idle", "x86_64-4.9-handmade-seed-2node-256g"} <= names


@pytest.mark.parametrize(("fid", "root", "expected", "what"), CASES,
                         ids=[f"{c[0]}:{c[3]}" for c in CASES])
def test_show_json_matches_golden(fid: str, root: Path, expected: Path, what: str,
                                  update_golden: bool) -> None:
    r = run_cli("--root", str(root), "show", what, "--format", "json")
    ok, err = expected / f"{what}.json", expected / f"{what}.error.txt"
    if r.code == 0:
        produced, path, stale = r.out, ok, err
    else:
        assert "Traceback" not in r.err and r.err.startswith("memstall: error: "), r.err
        produced, path, stale = f"exit {r.code}\n{r.err}", err, ok
    if update_golden:
        expected.mkdir(exist_ok=True)
        path.write_text(produced)
        stale.unlink(missing_ok=True)
        return
    assert path.exists(), (f"{fid}: no golden {path.relative_to(FIXTURES)}; "
                           "run `pytest --update-golden` and review the new file")
    assert not stale.exists(), f"{fid}: stale golden {stale.name}; run `pytest --update-golden`"
    assert produced == path.read_text(), (f"{fid}: `show {what}` differs from "
                                          f"{path.relative_to(FIXTURES)}; if intended, "
                                          "run `pytest --update-golden` and review the diff")


def test_every_expected_file_is_produced_by_a_view() -> None:
    names = {f"{w}.json" for w in VIEWS} | {f"{w}.error.txt" for w in VIEWS}
    for fid, _, expected in _roots():
        extra = sorted(p.name for p in expected.glob("*") if p.name not in names)
        assert extra == [], f"{fid}: expected/ holds files no view produces: {extra}"
