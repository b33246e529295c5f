"""docs/rules.md, generated from the rule docstrings of REGISTRY (never edited by hand).

Regenerate with `python -m pytest tests/test_rules_registry.py --update-golden`; the
test fails when the file and the docstrings disagree.
"""

from __future__ import annotations

import textwrap

HEADER = """# Rules

Generated from the docstrings of `memstall.rules.REGISTRY` by `memstall/rules/_doc.py`;
do not edit by hand (`python -m pytest tests/test_rules_registry.py --update-golden`
rewrites it). Keys are stable forever; each rule lives in the module of the same name
in lower case.

| key | what it detects |
|---|---|
"""


def _title_and_body(doc: str) -> tuple[str, str]:
    first, _, rest = doc.strip().partition("\n")
    return first.strip(), textwrap.dedent(rest).strip()


def _sections(body: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for block in body.split("\n\n"):
        head, _, text = block.partition("\n")
        out.append((head.strip().rstrip(":"), " ".join(text.split())))
    return out


def render_rules_md(docs: list[tuple[str, str]]) -> str:
    """`docs`: (key, module docstring) in REGISTRY order."""
    lines = [HEADER.rstrip("\n")]
    for key, doc in docs:
        title, _ = _title_and_body(doc)
        lines.append(f"| [`{key}`](#{key.lower()}) | {title.split(' — ', 1)[-1]} |")
    for key, doc in docs:
        title, body = _title_and_body(doc)
        lines += ["", f"## {key}", "", f"*{title.split(' — ', 1)[-1]}*"]
        for head, text in _sections(body):
            lines += ["", f"**{head}.** {text}"]
    return "\n".join(lines) + "\n"
