"""Shared test setup: the `live` marker, Hypothesis profiles, fixture paths, CLI runner."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from memstall.cli import Io, main

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
SHARED = TESTS.parent.parent / "shared"

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("ci", max_examples=400, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files (expected/*) instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def live_skip_reason() -> str | None:
    if not sys.platform.startswith("linux"):
        return "needs Linux: reads the running kernel"
    if os.geteuid() != 0:
        return "needs root: writes sysctls / reads debugfs and pagetypeinfo"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = live_skip_reason()
    if reason is None:
        return
    for item in items:
        if "live" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*argv: str) -> CliResult:
    """Run memstall in-process, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Io(stdout=out, stderr=err))
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> object:
    return run_cli


def json_keys(doc: object, skip: frozenset[str] = frozenset()) -> set[str]:
    """Every key of a JSON document, except below the keys in `skip` (open-ended maps)."""
    out: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.add(k)
            if k not in skip:
                out |= json_keys(v, skip)
    elif isinstance(doc, list):
        for v in doc:
            out |= json_keys(v, skip)
    return out
