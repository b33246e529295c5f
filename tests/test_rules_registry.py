"""REGISTRY: one module per rule named after its key, documented, and docs/rules.md in sync."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from memstall.rules import REGISTRY
from memstall.rules._doc import render_rules_md

DOCS = Path(__file__).parent.parent / "docs" / "rules.md"
SECTIONS = ("What it detects:", "Why it matters:", "Evidence:", "Remediation:", "References:")


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.key)
def test_rule_lives_in_the_module_named_after_its_key_with_every_doc_section(rule: object) -> None:
    module = importlib.import_module(f"memstall.rules.{rule.key.lower()}")  # type: ignore[attr-defined]
    assert module.RULE is rule
    assert rule.doc.startswith(f"{rule.key} — ")  # type: ignore[attr-defined]
    positions = [rule.doc.find(s) for s in SECTIONS]  # type: ignore[attr-defined]
    assert -1 not in positions and positions == sorted(positions)


def test_keys_are_unique_upper_snake() -> None:
    keys = [r.key for r in REGISTRY]
    assert len(set(keys)) == len(keys)
    assert all(k.isupper() and " " not in k for k in keys)


def test_every_rule_module_is_registered() -> None:
    pkg = Path(importlib.import_module("memstall.rules").__file__ or "").parent
    modules = {p.stem for p in pkg.glob("*.py") if not p.stem.startswith("_")}
    assert modules == {r.key.lower() for r in REGISTRY}


def test_docs_rules_md_is_generated_from_the_docstrings(update_golden: bool) -> None:
    text = render_rules_md([(r.key, r.doc) for r in REGISTRY])
    if update_golden:
        DOCS.parent.mkdir(exist_ok=True)
        DOCS.write_text(text)
    assert DOCS.read_text() == text, "docs/rules.md is stale: run pytest --update-golden"
