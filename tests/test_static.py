"""ruff, mypy --strict and the Python 3.9 compatibility check, as tests.

They run here so that `pytest` alone (the README's test command) is the whole gate.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_clean() -> None:
    r = _run(sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "scripts")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_clean() -> None:
    r = _run(sys.executable, "-m", "mypy")
    assert r.returncode == 0, r.stdout + r.stderr


def test_runs_on_python_3_9() -> None:
    # vermin finds the minimum version each construct needs; no 3.9 interpreter exists here.
    vermin = str(Path(sys.executable).parent / "vermin")
    r = _run(vermin, "--no-tips", "--violations", "-t=3.9-", "src/memstall")
    assert r.returncode == 0, r.stdout + r.stderr
