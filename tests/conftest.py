"""Shared test setup: opt-in live tests (--live), Hypothesis profiles, fixture paths, CLI runner."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

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


LIVE_MARKERS = ("live", "live_write")
OPT_IN = "opt in with `python -m pytest --live`"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files (expected/*) instead of comparing")
    parser.addoption("--live", action="store_true",
                     help="run the tests marked live (read the running kernel) and live_write "
                          "(change it: sysctls, debugfs mounts); they need Linux and root")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def live_skip_reason(marker: str, opted_in: bool, platform: str, euid: int) -> str | None:
    """Why a test marked `marker` (live or live_write) does not run here, or None if it does.

    Live tests are opt-in: `python -m pytest` as root on someone's production box must not
    write /proc/sys or mount debugfs. Pure, so each branch is tested without changing user.
    """
    if not opted_in:
        if marker == "live":
            return f"live test, reads the running kernel: {OPT_IN} (as root on Linux)"
        return (f"live_write test, changes the running kernel (sysctls, debugfs mounts): {OPT_IN} "
                "(as root, on a machine whose kernel you may change)")
    if not platform.startswith("linux"):
        return f"{marker} test needs Linux: it reads the running kernel"
    if euid != 0:
        why = ("reads pagetypeinfo, debugfs and /dev/kmsg" if marker == "live"
               else "writes sysctls, mounts debugfs")
        return f"{marker} test needs root: it {why}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    opted_in = bool(config.getoption("--live"))
    euid = os.geteuid() if hasattr(os, "geteuid") else -1
    for item in items:
        marks = [m for m in LIVE_MARKERS if item.get_closest_marker(m) is not None]
        if len(marks) > 1:
            raise pytest.UsageError(f"{item.nodeid}: marked both live and live_write; a test that "
                                    "changes the kernel is live_write only")
        if marks:
            reason = live_skip_reason(marks[0], opted_in, sys.platform, euid)
            if reason is not None:
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


def guest_skip_reason(tools: tuple[str, ...] = ("qemu-system-x86_64", "busybox", "gcc")) -> str | None:
    """Why a QEMU guest cannot boot here (a missing tool, busybox or kernel image), or None.

    The lab's and the trace's guest tests share it; .ci/run installs everything it names."""
    import shutil

    from memstall.errors import MemstallError
    from memstall.lab import tools as lab_tools

    for tool in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs it)"
    try:
        lab_tools.static_busybox()
        lab_tools.resolve_kernel(lab_tools.cache_dir(), None)
    except MemstallError as err:
        return err.message
    return None


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/NAME.py as a module (the benchmarks are scripts, not a package); registered
    in sys.modules first, where dataclasses look their module up."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, TESTS.parent / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
