"""Every doctest in the package runs (pytest's --doctest-modules only sees tests/), and every
parser module shows a worked example in its docstring (STYLE.md 2.6.1, insights-core)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import memstall
import memstall.parsers

MODULES = sorted(m.name for m in pkgutil.walk_packages(memstall.__path__, "memstall.")
                 if not m.name.endswith("__main__"))
PARSERS = sorted(m.name for m in pkgutil.iter_modules(memstall.parsers.__path__, "memstall.parsers.")
                 if not m.ispkg and not m.name.rsplit(".", 1)[1].startswith("_"))


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), report=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"


@pytest.mark.parametrize("name", PARSERS)
def test_every_parser_module_has_an_example(name: str) -> None:
    assert doctest.testmod(importlib.import_module(name), report=False).attempted > 0


def test_the_parsers_are_found() -> None:
    assert "memstall.parsers.buddyinfo" in PARSERS and "memstall.parsers.zoneinfo" in PARSERS
