"""docs/cli.md is the argparse help of every command; docs/json.md covers every JSON key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import FIXTURES, SHARED, json_keys, run_cli
from memstall.cli import build_parser
from memstall.cli.docgen import _subcommands, generate
from memstall.cli.show import VIEWS

DOCS = Path(__file__).parent.parent / "docs"
CLI_MD = DOCS / "cli.md"
JSON_MD = DOCS / "json.md"


def test_cli_md_is_up_to_date(update_golden: bool) -> None:
    text = generate()
    if update_golden:
        CLI_MD.write_text(text)
    assert CLI_MD.read_text() == text, (
        "docs/cli.md is stale: run `python -m memstall.cli.docgen > docs/cli.md` "
        "(or pytest --update-golden) and commit it")


def test_every_command_has_help_and_a_section() -> None:
    parser = build_parser()
    subs = list(_subcommands(parser))
    assert {"memstall show", "memstall snapshot"} <= {p.prog for p in subs}
    doc = CLI_MD.read_text()
    for p in subs:
        assert (p.description or p.format_usage()).strip(), p.prog
        assert f"## `{p.prog}`" in doc, p.prog
    for action in parser._actions:
        for choice in getattr(action, "_choices_actions", []):
            assert choice.help, f"`memstall {choice.dest}` has no help text"


def _section(schema: str) -> str:
    text = JSON_MD.read_text()
    m = re.search(rf"^### `{re.escape(schema)}`\n(.*?)(?=^##)", text, re.S | re.M)
    assert m, f"docs/json.md has no section for {schema}"
    return m.group(1)




OPEN_MAPS = frozenset({"counters", "fields_kib", "counts", "vm", "extra"})


@pytest.mark.parametrize("what", list(VIEWS))
def test_json_md_documents_every_key_of_every_view(what: str) -> None:
    section = _section(f"memstall.{what}/1")
    found: set[str] = set()
    for fixture in ("x86_64-6.18-idle", "x86_64-4.9-handmade-seed-2node-256g"):
        r = run_cli("--root", str(FIXTURES / "snapshots" / fixture), "show", what, "--format", "json")
        if r.code == 0:
            found |= json_keys(json.loads(r.out), OPEN_MAPS)
    if what == "slab":  # no fixture capture holds slabinfo; hotsos's 5.4 sosreport data does
        r = run_cli("--root", str(SHARED / "peer-parity/hotsos/unit_TestKernelMemoryInfo/root"),
                    "show", what, "--format", "json")
        found |= json_keys(json.loads(r.out), OPEN_MAPS)
    assert found
    common = JSON_MD.read_text().split("## `memstall show", 1)[0]  # conventions shared by all
    missing = sorted(k for k in found if f"`{k}`" not in section and f"`{k}`" not in common)
    assert missing == [], f"docs/json.md section memstall.{what}/1 lacks {missing}"


def test_json_md_documents_the_manifest() -> None:
    section = _section("memstall.snapshot/1") if "### `memstall.snapshot/1`" in JSON_MD.read_text() \
        else JSON_MD.read_text().split("(MANIFEST.json)", 1)[1]
    manifest = json.loads((FIXTURES / "snapshots/x86_64-6.18-idle/MANIFEST.json").read_text())
    missing = sorted(k for k in manifest if f"`{k}`" not in section)
    assert missing == []
