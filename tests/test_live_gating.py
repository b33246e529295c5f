"""Live tests are opt-in: `python -m pytest` alone never reads or changes the running kernel.

The gating (tests/conftest.py) is checked twice: the pure reason function for every branch,
and a real pytest run in a subprocess on a generated test file with a `live` and a
`live_write` test, with and without --live. The generated tests write a file in tmp_path when
their body runs, so "it ran" is seen from outside, not taken from pytest's own summary only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TESTS, live_skip_reason

REPO = TESTS.parent

_GENERATED = '''
from pathlib import Path

import pytest

RAN = Path({ran!r})


@pytest.mark.live_write
def test_writes() -> None:
    (RAN / "live_write").write_text("ran")


@pytest.mark.live
def test_reads() -> None:
    (RAN / "live").write_text("ran")


def test_plain() -> None:
    (RAN / "plain").write_text("ran")
'''


def _run(tmp_path: Path, *extra: str) -> tuple[set[str], str]:
    """Run pytest (with the project's pyproject.toml and a copy of conftest.py) on the generated
    file; return the names of the tests whose body ran and pytest's output."""
    suite = tmp_path / "suite"
    ran = tmp_path / "ran"
    suite.mkdir()
    ran.mkdir()
    (suite / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    (suite / "test_generated.py").write_text(_GENERATED.format(ran=str(ran)))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(suite),
         str(suite / "test_generated.py"), *extra],
        capture_output=True, text=True, timeout=300, check=False, cwd=suite,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    return {p.name for p in ran.iterdir()}, done.stdout


def test_without_live_neither_live_nor_live_write_runs(tmp_path: Path) -> None:
    ran, out = _run(tmp_path)
    assert ran == {"plain"}
    assert "1 passed, 2 skipped" in out
    assert "live_write test, changes the running kernel (sysctls, debugfs mounts): opt in with " \
           "`python -m pytest --live`" in out
    assert "live test, reads the running kernel: opt in with `python -m pytest --live`" in out


def test_with_live_both_run_as_root_and_skip_with_the_reason_otherwise(tmp_path: Path) -> None:
    ran, out = _run(tmp_path, "--live")
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        assert ran == {"plain", "live", "live_write"}
        assert "3 passed" in out
    else:  # the same run as a normal user: opted in, still skipped, saying why
        assert ran == {"plain"}
        assert "needs root" in out or "needs Linux" in out


def test_a_test_marked_both_is_refused(tmp_path: Path) -> None:
    suite = tmp_path / "both"
    suite.mkdir()
    (suite / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    (suite / "test_both.py").write_text(
        "import pytest\n\n\n@pytest.mark.live\n@pytest.mark.live_write\ndef test_x() -> None:\n    pass\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(suite),
         str(suite / "test_both.py")], capture_output=True, text=True, timeout=300, check=False, cwd=suite)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "marked both live and live_write" in done.stderr


@pytest.mark.parametrize("marker", ["live", "live_write"])
def test_skip_reason_for_every_branch(marker: str) -> None:
    assert "opt in with `python -m pytest --live`" in (live_skip_reason(marker, False, "linux", 0) or "")
    assert live_skip_reason(marker, True, "darwin", 0) == (
        f"{marker} test needs Linux: it reads the running kernel")
    assert (live_skip_reason(marker, True, "linux", 1000) or "").startswith(f"{marker} test needs root: it ")
    assert live_skip_reason(marker, True, "linux", 0) is None


def _readme_test_command() -> str:
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"^    (python3 -m venv .*)$", readme, flags=re.MULTILINE)
    assert len(commands) == 2, commands  # install-and-run, and install-and-test
    return next(c for c in commands if c.endswith("python -m pytest"))


def test_ci_runs_the_readme_test_command_with_live_appended() -> None:
    ci = (REPO / ".ci/run").read_text().splitlines()
    commands = [line for line in ci if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert commands[-1] == _readme_test_command() + " --live"
    assert "set -euo pipefail" in ci  # a failing step fails the CI run

