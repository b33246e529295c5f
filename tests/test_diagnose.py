"""`memstall diagnose`: exit codes, the JSON schema, captures with and without samples, live.

Golden files (tests/golden/diagnose/) hold the JSON report of every snapshot fixture, every
sosreport fixture and every corpus log; `pytest --update-golden` rewrites them for review.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, TESTS, run_cli
from memstall.cli.diagnose import exit_code
from memstall.rules import REGISTRY, Severity

GOLDEN = TESTS / "golden" / "diagnose"
SNAPSHOTS = sorted(p for p in (FIXTURES / "snapshots").iterdir() if p.is_dir())
SOSREPORTS = sorted(p for p in (FIXTURES / "sosreports").iterdir() if p.is_dir())
LOGS = sorted((FIXTURES / "kernlog" / "corpus").glob("*.log"))
IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
FRAGMENTED = FIXTURES / "snapshots" / "x86_64-6.1-qemu-2node-compacted"


def _golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden {path.name}: run pytest --update-golden"
    assert text == path.read_text(), f"{path.name} differs: review, then pytest --update-golden"


@pytest.mark.parametrize("root", SNAPSHOTS, ids=lambda p: p.name)
def test_golden_diagnosis_of_every_snapshot(root: Path, update_golden: bool) -> None:
    r = run_cli("--root", str(root), "--format", "json", "diagnose", "--fail-on", "never")
    assert r.code == 0, r.err
    _golden(f"snapshot-{root.name}.json", r.out, update_golden)


@pytest.mark.parametrize("sos", SOSREPORTS, ids=lambda p: p.name)
def test_golden_diagnosis_of_every_sosreport(sos: Path, update_golden: bool) -> None:
    (tree,) = sos.glob("sosreport-*")
    r = run_cli("--root", str(tree), "--format", "json", "diagnose", "--fail-on", "never")
    assert r.code == 0, r.err
    _golden(f"sosreport-{sos.name}.json", r.out, update_golden)


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name[:3])
def test_golden_diagnosis_of_every_corpus_log(log: Path, update_golden: bool) -> None:
    r = run_cli("--format", "json", "diagnose", "--log", str(log), "--fail-on", "never")
    assert r.code == 0, r.err
    _golden(f"log-{log.stem}.json", r.out, update_golden)


def test_json_schema_is_exactly_memstall_diagnosis_1() -> None:
    r = run_cli("--root", str(FRAGMENTED), "--format", "json", "diagnose")
    doc = json.loads(r.out)
    assert set(doc) == {"schema", "findings", "recommendations", "notes", "skipped", "passed",
                        "input_notes"}
    assert doc["schema"] == "memstall.diagnosis/1"
    assert doc["findings"]
    assert all(set(f) == {"key", "severity", "subject", "evidence", "summary", "explanation", "fix"}
               for f in doc["findings"])
    assert all(set(s) == {"key", "reason"} for s in doc["skipped"])
    keys = {f["key"] for f in doc["findings"]} | {s["key"] for s in doc["skipped"]}
    assert keys <= {r.key for r in REGISTRY}
    ran = {f["key"] for f in doc["findings"]} | set(doc["passed"])
    assert ran | {s["key"] for s in doc["skipped"]} == {r.key for r in REGISTRY}


def test_json_gives_all_the_text_shows_fixes_and_will_not_help_notes() -> None:
    log = next(p for p in LOGS if p.name.startswith("000-"))
    doc = json.loads(run_cli("--format", "json", "diagnose", "--log", str(log)).out)
    text = run_cli("diagnose", "--log", str(log)).out
    flat = " ".join(text.split())
    for f in doc["findings"]:
        assert f["fix"] and " ".join(("fix: " + f["fix"]).split()) in flat
    assert any(n.startswith("vm.extfrag_threshold will not help node0/Normal") for n in doc["notes"])
    assert all(" ".join(n.split()) in flat for n in doc["notes"])
    assert doc["passed"] == ["RECLAIMABLE_SLAB"]


def test_exit_code_follows_the_worst_finding_and_fail_on() -> None:
    assert exit_code(None, "warning") == 0
    assert exit_code(Severity.INFO, "warning") == 0
    assert exit_code(Severity.WARNING, "warning") == 1
    assert exit_code(Severity.CRITICAL, "warning") == 2
    assert exit_code(Severity.WARNING, "critical") == 0
    assert exit_code(Severity.INFO, "info") == 1
    assert exit_code(Severity.CRITICAL, "never") == 0


def test_cli_exit_code_on_a_capture_with_a_warning() -> None:
    r = run_cli("--root", str(FRAGMENTED), "diagnose")
    doc = json.loads(run_cli("--root", str(FRAGMENTED), "--format", "json", "diagnose").out)
    worst = max(Severity[f["severity"]] for f in doc["findings"])
    assert r.code == {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}[worst]
    assert run_cli("--root", str(FRAGMENTED), "diagnose", "--fail-on", "never").code == 0


def test_single_sample_capture_says_why_rate_rules_were_skipped() -> None:
    r = run_cli("--root", str(FRAGMENTED), "--format", "json", "diagnose")
    skipped = {s["key"]: s["reason"] for s in json.loads(r.out)["skipped"]}
    assert "one sample" in skipped["DIRECT_RECLAIM"]
    assert "--samples 2" in skipped["DIRECT_RECLAIM"]


def test_capture_with_two_samples_runs_the_rate_rules() -> None:
    r = run_cli("--root", str(IDLE), "--format", "json", "diagnose")
    skipped = {s["key"] for s in json.loads(r.out)["skipped"]}
    assert not skipped & {"DIRECT_RECLAIM", "KSWAPD_BUSY", "WATERMARK_GAP_TOO_SMALL"}


def test_text_report_sections() -> None:
    r = run_cli("--root", str(FRAGMENTED), "diagnose", "--fail-on", "never")
    assert r.out.startswith(f"memstall diagnose: {FRAGMENTED} (capture, one sample; kernel 6.1.0)")
    assert "\nSkipped (" in r.out and "\nPassed: " in r.out


def test_negative_interval_is_a_usage_error_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli("diagnose", "--interval", "-1")
    # was exit 2 (usage), which a monitoring system reads as CRITICAL: UNKNOWN (3) now
    assert r.code == 3
    assert "argument --interval: '-1' is not a number of seconds from 0 to 604800" in capsys.readouterr().err


def test_missing_log_is_one_line_error() -> None:
    r = run_cli("diagnose", "--log", "/nonexistent/kern.log")
    assert r.code == 3
    assert r.err.startswith("memstall: error: /nonexistent/kern.log: ")
    assert "Traceback" not in r.err


@pytest.mark.live
def test_live_diagnose_samples_twice() -> None:
    r = run_cli("--format", "json", "diagnose", "--interval", "0.5", "--fail-on", "never")
    assert r.code == 0, r.err
    skipped = {s["key"]: s["reason"] for s in json.loads(r.out)["skipped"]}
    assert "DIRECT_RECLAIM" not in skipped  # rates from the two live samples


@pytest.mark.parametrize(("command", "code"), [(["whatif", "--set", "vm.watermark_scale_factor=100"], 2)])
def test_log_and_root_together_are_refused_not_one_ignored(command: list[str], code: int) -> None:
    """whatif reads one state, so it refuses two sources. diagnose accepts both since issue 16
    (the root's state, the log's reports: tests/test_root_logs.py)."""
    log = LOGS[0]
    r = run_cli("--root", str(IDLE), *command, "--log", str(log))
    assert r.code == code and r.out == ""
    assert r.err == (f"memstall: error: --log {log} and --root {IDLE}: give one source, not both "
                     "(--log reads the Mem-Info of the log, --root a host or capture)\n")


def test_text_never_splits_a_gfp_flag_list_or_evidence_value() -> None:
    log = next(p for p in LOGS if p.name.startswith("006-"))
    r = run_cli("diagnose", "--log", str(log), "--fail-on", "never")
    flags = ("__GFP_HIGHMEM|__GFP_IO|__GFP_FS|__GFP_COMP|__GFP_NOMEMALLOC|__GFP_HARDWALL|"
             "__GFP_MOVABLE|__GFP_DIRECT_RECLAIM")
    assert r.out.count(flags) == 3  # summary, explanation and evidence, each whole


def test_text_title_counts_reports_in_words() -> None:
    one = next(p for p in LOGS if p.name.startswith("006-"))
    five = next(p for p in LOGS if p.name.startswith("043-"))
    assert "(kernel log: 1 allocation report, no Mem-Info;" in run_cli("diagnose", "--log", str(one)).out
    out = run_cli("diagnose", "--log", str(five)).out
    assert "(kernel log: 5 allocation reports, Mem-Info at line" in out


def test_a_malformed_file_in_a_capture_degrades_instead_of_stopping_the_check(tmp_path: Path) -> None:
    """Issue 16's real case: a malformed line in proc/meminfo stopped diagnose with exit 3.
    Now the file is left out with its file:line reason, the rules that need it are skipped
    with that reason, and every other rule still runs. (The issue's `#` line itself is now
    left out alone, with a note: test_a_comment_line_in_meminfo_is_left_out_with_a_note.)"""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "snapshots" / "x86_64-6.18-idle", root)
    for meminfo in [root / "proc" / "meminfo", *root.glob("samples/*/proc/meminfo")]:
        meminfo.write_text("captured by a tool that adds notes\n" + meminfo.read_text())
    r = run_cli("--root", str(root), "diagnose", "--format", "json", "--fail-on", "never")
    assert (r.code, r.err) == (0, "")
    doc = json.loads(r.out)
    reasons = " ".join(s["reason"] for s in doc["skipped"])
    assert "proc/meminfo:1" in reasons
    assert doc["passed"], "the rules that do not need meminfo still ran"
    clean = json.loads(run_cli("--root", str(FIXTURES / "snapshots" / "x86_64-6.18-idle"), "diagnose",
                               "--format", "json", "--fail-on", "never").out)
    assert {f["key"] for f in doc["findings"]} <= {f["key"] for f in clean["findings"]}


def test_a_comment_line_in_meminfo_is_left_out_with_a_note(tmp_path: Path) -> None:
    """Issue 16: a `#` line (hotsos's test data annotates meminfo so) is a person's, never the
    kernel's: that line is left out with a note naming file:line, and the rest is read."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "snapshots" / "x86_64-6.18-idle", root)
    for meminfo in [root / "proc" / "meminfo", *root.glob("samples/*/proc/meminfo")]:
        meminfo.write_text("# captured by a tool that adds comments\n" + meminfo.read_text())
    args = ("diagnose", "--format", "json", "--fail-on", "never")
    doc = json.loads(run_cli("--root", str(root), *args).out)
    clean = json.loads(run_cli("--root", str(FIXTURES / "snapshots" / "x86_64-6.18-idle"), *args).out)
    assert "proc/meminfo:1 '# captured by a tool that adds comments'" in " ".join(doc["input_notes"])
    assert doc["findings"] == clean["findings"] and doc["skipped"] == clean["skipped"]
