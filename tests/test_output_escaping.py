"""Terminal escapes from hosts and logs never reach stdout/stderr raw (issue 9, Security 4).

Every text-producing command runs on a root and a log whose names, process names, host
names, sysctl values and drop-in file names carry an OSC 52 (clipboard write), a
clear-screen, a right-to-left override and the rest of the characters a terminal acts on.
"""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES, run_cli
from memstall.cli import COMMAND_MODULES
from memstall.cli.show import VIEWS
from memstall.outputs.render import safe
from memstall.outputs.render.safe import safe_text

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
CLEAR = "\x1b[2J\x1b[H"
RLO = "\u202e"
HOSTILE = f"{OSC52}{CLEAR}{RLO}\x9b2J\x7f\u2028\u2066\U000e0001"
"""What a hostile name carries: OSC 52, clear-screen, RLO, a C1 CSI, DEL, U+2028, an
isolate and a tag character (above U+FFFF)."""
ACTIVE = {"Cc", "Cf", "Zl", "Zp", "Cs"}
SNAPSHOT = FIXTURES / "snapshots" / "x86_64-6.18-idle"
LOG = FIXTURES / "kernlog" / "formats" / "syslog-no-uptime.txt"


def raw_controls(text: str) -> list[str]:
    """The characters a terminal would act on (newline and tab are ours)."""
    return sorted({f"U+{ord(c):04X}" for c in text
                   if c not in "\n\t" and unicodedata.category(c) in ACTIVE})


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Path]:
    """A capture, a log and an output place, every one named and filled with HOSTILE."""
    base = tmp_path / f"in{HOSTILE}"
    base.mkdir()
    root = base / f"root{HOSTILE}"
    shutil.copytree(SNAPSHOT, root, ignore=shutil.ignore_patterns("expected"))
    (root / "proc/sys/vm/zz_hostile_knob").write_text(f"1{HOSTILE}\n")
    (root / "proc/sys/vm/swappiness").write_text("60\n")
    sysctl_d = root / "etc/sysctl.d"
    sysctl_d.mkdir(parents=True)
    (sysctl_d / f"99-{HOSTILE}.conf").write_text("vm.swappiness = 30\n")
    text = LOG.read_text().replace("python", f"py{HOSTILE}thon").replace("MyHOST", f"host{HOSTILE}")
    log = base / f"dmesg{HOSTILE}.log"
    log.write_text(text)
    broken = base / f"broken{HOSTILE}"
    shutil.copytree(root, broken)
    (broken / "proc/buddyinfo").write_text(f"Node 0, zone {HOSTILE} x y\n")
    return {"root": root, "log": log, "out": base / f"out{HOSTILE}", "broken": broken}


TABLES = sorted(VIEWS)
TUNE_ACTIONS = {"plan", "apply", "confirm", "rollback", "history", "verify", "export", "revert-due"}


def commands(h: dict[str, Path]) -> list[list[str]]:
    root, log = str(h["root"]), str(h["log"])
    swap = ["--set", "vm.swappiness=10"]
    return [
        *[["--root", root, "show", t] for t in TABLES],
        ["--root", str(h["broken"]), "show", "buddyinfo"],
        ["--root", root, "diagnose"],
        ["diagnose", "--log", log],
        ["--root", root, "whatif", "--set", "vm.watermark_scale_factor=30"],
        ["whatif", "--set", "vm.watermark_scale_factor=30", "--log", log],
        ["--root", root, "snapshot", "-o", str(h["out"])],
        ["--root", str(h["out"]), "show", "sysctl"],
        ["logs", log],
        ["logs", log, "--as-snapshot", str(h["out"]) + "-logs"],
        ["logs", str(h["log"]) + "-missing"],
        ["--root", root, "tune", "plan", "--persist", *swap],
        ["--root", root, "tune", "export", *swap],
        ["--root", root, "tune", "apply", "--persist", *swap],
        ["--root", root, "tune", "apply", "--yes", "--persist", *swap],
        ["--root", root, "tune", "history"],
        ["--root", root, "tune", "verify"],
        ["--root", root, "tune", "rollback"],
        ["--root", root, "tune", "confirm", "20261126T043012.123456Z-3f9a"],
        ["--root", root, "tune", "revert-due", "20261126T043012.123456Z-3f9a"],
        ["--root", root + "-typo", "tune", "history"],
        ["logs", "--format", "jsonl", log],
        ["lab", "kernels", "--cache", str(h["out"]) + "-lab"],  # the cache path is printed
        ["trace", "--input", log],  # not trace text: the error names the file
        ["--root", root, "record", "--db", str(h["out"]) + "-rec.db", "--samples", "2", "--interval", "1"],
        ["report", "--db", str(h["out"]) + "-rec.db", "-o", str(h["out"]) + "-day.html"],
        ["--root", root, "report", "-o", str(h["out"]) + "-moment.html"],
        ["lab", "compare", str(h["out"]) + "-no-results"],  # an error naming the directory
        ["--root", root, "top", "--once"],
        ["--root", str(h["broken"]), "top", "--once", "--width", "200"],
        ["--root", root, "exporter", "--once"],  # one scrape's exposition
        ["fleet", "--prometheus", "http://127.0.0.1:1"],  # an error naming the server
    ]


def test_every_command_is_in_the_sweep(hostile: dict[str, Path]) -> None:
    """A new command or tune action must join the sweep above."""
    argvs = commands(hostile)
    assert {next(a for a in argv if a in COMMAND_MODULES) for argv in argvs} == set(COMMAND_MODULES)
    assert {argv[argv.index("tune") + 1] for argv in argvs if "tune" in argv} == TUNE_ACTIONS
    assert {argv[argv.index("show") + 1] for argv in argvs if "show" in argv} == set(VIEWS)


def test_no_command_writes_a_raw_terminal_control(hostile: dict[str, Path]) -> None:
    seen_hostile = 0
    for argv in commands(hostile):
        r = run_cli(*argv)
        assert "internal error" not in r.err, (argv, r.err)
        assert raw_controls(r.out) == [] and raw_controls(r.err) == [], (argv, r.out[:2000], r.err)
        seen_hostile += ("\\u001b]52;c;" in r.out + r.err) and ("\\u202e" in r.out + r.err)
    assert seen_hostile >= 10  # the hostile strings were printed, escaped, by most commands


def strings(doc: object) -> list[str]:
    if isinstance(doc, dict):
        return [s for k, v in doc.items() for s in (k, *strings(v))]
    if isinstance(doc, list):
        return [s for v in doc for s in strings(v)]
    return [doc] if isinstance(doc, str) else []


def test_json_stays_valid_and_decodes_to_the_original(hostile: dict[str, Path]) -> None:
    r = run_cli("--root", str(hostile["root"]), "--format", "json", "show", "sysctl")
    assert r.code == 0 and raw_controls(r.out) == []
    assert json.loads(r.out)["vm"]["zz_hostile_knob"] == f"1{HOSTILE}"
    r = run_cli("logs", "--format", "json", str(hostile["log"]))
    assert raw_controls(r.out) == []
    assert any(f"py{HOSTILE}thon" in s for s in strings(json.loads(r.out)))


CONTROLS = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\n\t"]
BIDI_AND_SEPARATORS = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                       "\u2069", "\u2028", "\u2029", "\u200f", "\ufeff", "\udcff", "\U000e0041"]


@pytest.mark.parametrize("ch", CONTROLS + BIDI_AND_SEPARATORS)
def test_safe_text_escapes(ch: str) -> None:
    escaped = safe_text(f"a{ch}b")
    assert raw_controls(escaped) == [] and escaped.startswith("a\\u") and escaped.endswith("b")
    assert json.loads(f'"{escaped}"') == f"a{ch}b"


def test_safe_text_keeps_printable_text() -> None:
    text = "Node 0, zone Normal: free ≥ min – 4 KiB µs ü 中\n\tnext \\ line"
    assert safe_text(text) == text


@given(st.text(st.characters(max_codepoint=0x7F)) | st.text())
def test_the_ascii_fast_path_answers_as_the_regex(text: str) -> None:
    """safe_text's `bytes.translate` check of ASCII text escapes exactly what the regex does."""
    assert safe_text(text) == safe._SUSPECT.sub(safe._replace, text)


def test_a_stream_started_closed_fails_writes_and_flushes_quietly() -> None:
    from memstall.outputs.render.safe import escaping

    closed = escaping(None)
    closed.flush()
    with pytest.raises(OSError, match="closed"):
        closed.write("x")
    assert escaping(closed) is closed
