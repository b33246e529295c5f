"""memstall.pipeline: its public names, its place in the import graph, and the log filters
and fleet-host choice that moved there from cli/logs.py and cli/diagnose.py.

Events are the seed log's real report (tests/fixtures/kernlog/corpus/000-*), copied with
another host, kind or stamp where a case needs one; expected values are read off those stamps.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import FIXTURES
from memstall import pipeline
from memstall.collect_log import read_log
from memstall.errors import UsageError
from memstall.model.kernlog import AllocEvent
from memstall.pipeline import EventFilter, fleet_host, in_time_range, of_host, parse_bound

SRC = Path(__file__).parent.parent / "src" / "memstall"
SEED_LOG = FIXTURES / "kernlog" / "corpus" / "000-seed-cold-storage-4.9.log"


@pytest.fixture(scope="module")
def seed() -> AllocEvent:
    (event,) = [i for i in read_log(str(SEED_LOG))[1] if isinstance(i, AllocEvent)]
    assert (event.host, event.kind, event.uptime_s) == ("MyHOST", "stall", 4395803.602414)
    return event


def test_every_public_name_resolves_and_nothing_else() -> None:
    assert pipeline.__all__ == sorted(pipeline._HOME, key=lambda n: (not n.isupper(), n))
    for name in pipeline.__all__:
        home = importlib.import_module(f"memstall.pipeline.{pipeline._HOME[name]}")
        assert getattr(pipeline, name) is getattr(home, name) and name in home.__all__
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        pipeline.nope  # noqa: B018


def test_the_log_filter_does_not_import_the_rules_or_the_state_reader() -> None:
    code = ("import sys, memstall.cli.logs; "
            "print(sorted(m for m in ('memstall.rules', 'memstall.collect') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _project_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("memstall."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("memstall."))
    return found


@pytest.mark.parametrize("path", sorted((SRC / "cli").glob("*.py")), ids=lambda p: p.name)
def test_cli_modules_do_not_import_each_other(path: Path) -> None:
    if path.name in ("__init__.py", "docgen.py", "args.py"):  # the sink imports commands; docgen the parser
        return
    # cli/args.py holds argparse value types, not a command: sharing it is not wiring via cli.
    assert not {m for m in _project_imports(path) if m.startswith("memstall.cli")} - {"memstall.cli.args"}


@pytest.mark.parametrize("path", sorted((SRC / "pipeline").glob("*.py")), ids=lambda p: p.name)
def test_pipeline_imports_neither_cli_nor_outputs(path: Path) -> None:
    layers = {m.split(".")[1] for m in _project_imports(path)}
    assert not layers & {"cli", "outputs", "tune"}


def test_parse_bound() -> None:
    assert parse_bound("4395800", "--since") == 4395800.0
    assert parse_bound("2017-08-11T16:51Z", "--since") == datetime(2017, 8, 11, 16, 51,
                                                                   tzinfo=timezone.utc)
    with pytest.raises(UsageError, match=r"^--until 'nan': expected uptime seconds or an ISO"):
        parse_bound("nan", "--until")


def test_time_range_on_uptime_and_wall_clock_stamps(seed: AllocEvent) -> None:
    assert in_time_range(seed, 4395803.0, 4395804.0)
    assert not in_time_range(seed, 4395804.0, None) and not in_time_range(seed, None, 4395803.0)
    syslog = replace(seed, time="Aug 11 16:51:40", uptime_s=None)  # no year, no zone
    assert in_time_range(syslog, datetime(2017, 8, 11, 16, 51), None)
    assert not in_time_range(syslog, None, datetime(2017, 8, 11, 16, 51))
    # a zoned bound against an unzoned stamp: both read as wall clock
    assert in_time_range(syslog, datetime(2017, 8, 11, 16, 51, tzinfo=timezone(timedelta(hours=3))), None)
    assert not in_time_range(syslog, 4395803.0, None)  # uptime bound, no uptime: left out


def test_event_filter(seed: AllocEvent) -> None:
    assert not EventFilter().active and EventFilter().wants(seed)
    assert EventFilter(since=0.0).active
    assert EventFilter(hosts={"MyHOST"}, kinds={"stall"}).wants(seed)
    assert not EventFilter(hosts={"other"}).wants(seed)
    assert not EventFilter(kinds={"oom"}).wants(seed)


def test_fleet_host_is_the_owner_of_the_dump_else_the_only_host(seed: AllocEvent) -> None:
    other = replace(seed, host="db7", mem_info=None, line_no=900)
    assert fleet_host((seed, other), seed.mem_info) == "MyHOST"
    assert fleet_host((other,), None) == "db7"
    assert fleet_host((seed, other), None) is None  # two hosts, no dump to choose by
    nameless = replace(seed, host=None)
    assert of_host((seed, other, nameless), "MyHOST") == ((seed, nameless), 1)
    assert of_host((seed, other), None) == ((seed, other), 0)
