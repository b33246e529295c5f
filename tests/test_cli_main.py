"""The CLI entry point: which sub-command is loaded, and that only it is."""

from __future__ import annotations

import subprocess
import sys

import pytest

from memstall.cli import COMMAND_MODULES, chosen_command


@pytest.mark.parametrize(("argv", "expected"), [
    (["show", "frag"], "show"),
    (["--root", "show", "logs"], "logs"),  # 'show' is --root's value here
    (["--format", "json", "--debug", "diagnose"], "diagnose"),
    (["--help"], None),
    (["nosuch", "show"], None),
    ([], None),
])
def test_chosen_command(argv: list[str], expected: str | None) -> None:
    assert chosen_command(argv) == expected


def test_a_run_imports_only_its_own_sub_command() -> None:
    code = ("import sys, io; from memstall.cli import main, Io; "
            "main(['show', 'frag', '--root', '/'], Io(io.StringIO(), io.StringIO())); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('memstall.cli.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["memstall.cli.show"]


def test_top_level_help_lists_every_command() -> None:
    r = subprocess.run([sys.executable, "-m", "memstall", "--help"], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0
    for name in COMMAND_MODULES:
        assert name in r.stdout
