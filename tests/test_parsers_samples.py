"""Every parser against its valid/ and invalid/ samples, collected by glob.

tests/fixtures/samples/<parser>/valid/<name>.txt      -> <name>.expected.json (the parsed model)
tests/fixtures/samples/<parser>/invalid/<name>.txt    -> <name>.error (the exact ParseError message)

`sysctl_vm` samples are directories (one file per knob, like /proc/sys/vm). Adding a file
adds a test; `pytest --update-golden` writes the expected files, to be reviewed in the diff.
Provenance of each sample is in tests/fixtures/samples/README.md.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import FIXTURES
from memstall.cli.show import NEEDS
from memstall.collect.registry import record_for
from memstall.errors import ParseError
from memstall.parsers.buddyinfo import parse_buddyinfo
from memstall.parsers.extfrag import parse_extfrag
from memstall.parsers.kthread_stat import parse_kthread_stat
from memstall.parsers.meminfo import parse_meminfo
from memstall.parsers.pagetypeinfo import parse_pagetypeinfo
from memstall.parsers.psi import parse_psi
from memstall.parsers.slabinfo import parse_slabinfo
from memstall.parsers.sysctl_vm import parse_sysctl_vm
from memstall.parsers.thp import parse_thp_choice
from memstall.parsers.vmstat import parse_vmstat
from memstall.parsers.zoneinfo import parse_zoneinfo

SAMPLES = Path(__file__).parent / "fixtures" / "samples"


def _read_text(path: Path) -> str:
    # newline="" keeps CRLF samples as they are: the parsers must cope with them.
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def _sysctl_dir(path: Path) -> object:
    return parse_sysctl_vm({p.name: _read_text(p) for p in sorted(path.iterdir())})


PARSERS: dict[str, Callable[[Path], object]] = {
    "buddyinfo": lambda p: parse_buddyinfo(_read_text(p)),
    "zoneinfo": lambda p: parse_zoneinfo(_read_text(p)),
    "vmstat": lambda p: parse_vmstat(_read_text(p)),
    "meminfo": lambda p: parse_meminfo(_read_text(p)),
    "psi": lambda p: parse_psi(_read_text(p)),
    "extfrag_index": lambda p: parse_extfrag(_read_text(p)),
    "kthread_stat": lambda p: parse_kthread_stat(_read_text(p)),
    "thp": lambda p: parse_thp_choice(_read_text(p)),
    "pagetypeinfo": lambda p: parse_pagetypeinfo(_read_text(p)),
    "slabinfo": lambda p: parse_slabinfo(_read_text(p)),
    "sysctl_vm": _sysctl_dir,
}


def _samples(kind: str) -> list[tuple[str, Path]]:
    found = []
    for parser in sorted(PARSERS):
        pattern = "*" if parser == "sysctl_vm" else "*.txt"
        for p in sorted((SAMPLES / parser / kind).glob(pattern)):
            if parser != "sysctl_vm" or p.is_dir():
                found.append((parser, p))
    return found


VALID = _samples("valid")
INVALID = _samples("invalid")


def _jsonable(obj: object) -> object:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _expected_path(sample: Path, suffix: str) -> Path:
    base = sample if sample.is_dir() else sample.with_suffix("")
    return base.parent / (base.name + suffix)


def test_every_parser_has_valid_and_invalid_samples() -> None:
    for parser in PARSERS:
        assert any(p == parser for p, _ in VALID), f"no valid sample for {parser}"
        assert any(p == parser for p, _ in INVALID), f"no invalid sample for {parser}"


@pytest.mark.parametrize(("parser", "sample"), VALID, ids=[f"{p}/{s.name}" for p, s in VALID])
def test_valid_sample_parses_to_golden(parser: str, sample: Path, update_golden: bool) -> None:
    got = json.dumps(_jsonable(PARSERS[parser](sample)), indent=1, sort_keys=True) + "\n"
    golden = _expected_path(sample, ".expected.json")
    if update_golden:
        golden.write_text(got)
    assert golden.exists(), f"{golden} missing: run pytest --update-golden and review it"
    assert got == golden.read_text()


_LOCATION = re.compile(r"^[^:]+(?::(\d+))?: expected ")


@pytest.mark.parametrize(("parser", "sample"), INVALID, ids=[f"{p}/{s.name}" for p, s in INVALID])
def test_invalid_sample_raises_exact_parse_error(parser: str, sample: Path, update_golden: bool) -> None:
    with pytest.raises(ParseError) as info:
        PARSERS[parser](sample)
    message = str(info.value)
    golden = _expected_path(sample, ".error")
    if update_golden:
        golden.write_text(message)
    assert golden.exists(), f"{golden} missing: run pytest --update-golden and review it"
    assert message == golden.read_text()
    m = _LOCATION.match(message)
    assert m, message
    assert info.value.line_no == int(m.group(1) or 0)
    assert "Traceback" not in message and "\n" not in message


# Where each sample goes in a root filesystem, for the end-to-end check through the CLI.
ROOT_PATHS = {
    "buddyinfo": "proc/buddyinfo",
    "zoneinfo": "proc/zoneinfo",
    "vmstat": "proc/vmstat",
    "meminfo": "proc/meminfo",
    "psi": "proc/pressure/memory",
    "extfrag_index": "sys/kernel/debug/extfrag/extfrag_index",
    "kthread_stat": "proc/45/stat",
    "thp": "sys/kernel/mm/transparent_hugepage/enabled",
    "pagetypeinfo": "proc/pagetypeinfo",
    "slabinfo": "proc/slabinfo",
    "sysctl_vm": "proc/sys/vm",
}
DEFAULT_PATHS = {**ROOT_PATHS, "kthread_stat": "proc/<pid>/stat"}


def _place(parser: str, sample: Path, root: Path) -> None:
    (root / "proc").mkdir(parents=True, exist_ok=True)  # what makes a directory a root
    target = root / ROOT_PATHS[parser]
    target.parent.mkdir(parents=True, exist_ok=True)
    if sample.is_dir():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        for f in sample.iterdir():
            (target / f.name).write_bytes(f.read_bytes())
    else:
        target.write_bytes(sample.read_bytes())
    if parser == "kthread_stat":
        (root / "proc" / "45" / "comm").write_text("kswapd0\n")


@pytest.mark.parametrize(("parser", "sample"), INVALID, ids=[f"{p}/{s.name}" for p, s in INVALID])
def test_invalid_sample_in_a_root_is_one_error_line_exit_3(parser: str, sample: Path, tmp_path: Path,
                                                           cli: Callable[..., Any]) -> None:
    _place(parser, sample, tmp_path / "bare")
    expected = _expected_path(sample, ".error").read_text()
    expected = expected.replace(DEFAULT_PATHS[parser], ROOT_PATHS[parser], 1)
    record = record_for(ROOT_PATHS[parser])
    assert record is not None
    # The view that shows the file fails on it; a view that does not need it (issue 9) runs
    # and says on stderr what it left out. No view shows pagetypeinfo (the rules read it).
    showing = [what for what, needs in NEEDS.items() if record.field in needs]
    for what in showing:
        result = cli("show", what, "--root", str(tmp_path / "bare"))
        assert result.code == 3
        assert result.err == f"memstall: error: {expected}\n"
    # In a complete capture, so that the other view has what it needs.
    full = tmp_path / "full"
    shutil.copytree(FIXTURES / "snapshots" / "x86_64-6.18-idle", full)
    _place(parser, sample, full)
    other = next(what for what, needs in NEEDS.items() if record.field not in needs)
    result = cli("show", other, "--root", str(full))
    assert result.code == 0, result.err
    assert f" left out: {expected}\n" in result.err
    assert "Traceback" not in result.err
