"""contrib/prometheus/memstall.rules.yml: `promtool check rules`, and `promtool test rules` with
tests/prometheus/memstall.rules.test.yml, which makes every alert fire for one host and stay
silent for another. promtool comes with Debian's `prometheus` package (.ci/run installs it).

The test file lists each expected alert's summary; the description (no template in it) is
copied in here from the rules file, so the on-call text lives in one place.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import TESTS

REPO = TESTS.parent
RULES = REPO / "contrib" / "prometheus" / "memstall.rules.yml"
UNIT_TESTS = TESTS / "prometheus" / "memstall.rules.test.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed: apt-get install "
                                    "prometheus (.ci/run does)")


def _alerts() -> dict[str, dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


def test_every_alert_says_what_to_run_next() -> None:
    alerts = _alerts()
    assert set(alerts) == {"MemstallDirectReclaimStorm", "MemstallZoneBelowLowWatermark",
                           "MemstallHighOrderExhaustion", "MemstallCompactionFailing",
                           "MemstallPsiMemoryFull", "MemstallSourcesDown", "MemstallAllocationReportsLogged"}
    for name, rule in alerts.items():
        notes = rule["annotations"]
        assert isinstance(notes, dict)
        assert notes["summary"] and "`memstall " in notes["description"], name
        assert rule["labels"]["severity"] in {"warning", "critical"}  # type: ignore[index]


def test_every_alert_fires_and_stays_silent_in_the_unit_tests() -> None:
    tests = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    fired = {c["alertname"] for t in tests for c in t.get("alert_rule_test", []) if c["exp_alerts"]}
    silent = {c["alertname"] for t in tests for c in t.get("alert_rule_test", []) if not c["exp_alerts"]}
    assert fired == silent == set(_alerts())


@needs_promtool
def test_promtool_check_rules() -> None:
    r = _promtool("check", "rules", str(RULES), cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


@needs_promtool
def test_promtool_test_rules(tmp_path: Path) -> None:
    doc = yaml.safe_load(UNIT_TESTS.read_text())
    doc["rule_files"] = [str(RULES)]
    alerts = _alerts()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            for exp in case["exp_alerts"]:
                exp["exp_annotations"]["description"] = alerts[case["alertname"]]["annotations"][
                    "description"]  # type: ignore[index]
    unit = tmp_path / "memstall.rules.test.yml"
    unit.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = _promtool("test", "rules", str(unit), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
