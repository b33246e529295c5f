"""Kernel references point at docs/kernel.md, and every anchor they cite exists there.

The code and the docs cite kernel facts as `docs/kernel.md#<anchor>`; the anchor is the one
GitHub derives from a heading of docs/kernel.md. A renamed heading or a typo in a citation
fails here. Nothing in src/ or docs/ may cite a file users never get (the development-only
FACTS.md or anything under ../shared).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
KERNEL_MD = ROOT / "docs" / "kernel.md"
# A citation in code or text, or a Markdown link from another page of docs/.
CITATION = re.compile(r"(?:docs/|\]\()kernel\.md#([A-Za-z0-9_-]+)")
# In-page links of kernel.md itself: [text](#anchor).
LOCAL_LINK = re.compile(r"\]\(#([A-Za-z0-9_-]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
OUTSIDE = re.compile(r"FACTS\.md|\.\./shared|/work/shared")
# docs/ may name the shared log corpus a benchmark was built from; kernel facts it may not.
OUTSIDE_DOCS = re.compile(r"FACTS\.md|shared/kernel")


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to '-'.

    >>> github_anchor("kswapd and kcompactd"), github_anchor("Mem-Info dump")
    ('kswapd-and-kcompactd', 'mem-info-dump')
    """
    text = re.sub(r"`([^`]*)`", r"\1", heading).strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(markdown: str) -> list[str]:
    found = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = HEADING.match(line)
        if m and not in_code:
            found.append(github_anchor(m.group(2)))
    return found


def _cited_files() -> list[Path]:
    """Every file that may cite kernel.md (this file's own examples are not citations)."""
    return sorted(p for p in [*(ROOT / "src").rglob("*.py"), *(ROOT / "docs").glob("*.md"),
                   *(ROOT / "tests").glob("*.py"), *(ROOT / "tests").rglob("*.md"),
                   *(ROOT / "tests" / "fixtures" / "handmade").glob("*.py")]
                  if p.resolve() != Path(__file__).resolve())


def test_github_anchor_matches_githubs_rules() -> None:
    assert github_anchor("THP min free kbytes") == "thp-min-free-kbytes"
    assert github_anchor("Watermarks checked on a live kernel") == "watermarks-checked-on-a-live-kernel"
    assert github_anchor("Vm sysctl ranges") == "vm-sysctl-ranges"
    assert github_anchor("`boost` on 5.16+") == "boost-on-516"
    assert github_anchor("min_free_kbytes") == "min_free_kbytes"


def test_kernel_md_anchors_are_unique() -> None:
    found = anchors(KERNEL_MD.read_text())
    assert len(found) > 20
    assert sorted({a for a in found if found.count(a) > 1}) == []


def test_every_cited_anchor_exists() -> None:
    known = set(anchors(KERNEL_MD.read_text()))
    missing = []
    for path in _cited_files():
        for no, line in enumerate(path.read_text().splitlines(), 1):
            missing += [f"{path.relative_to(ROOT)}:{no}: #{a}" for a in CITATION.findall(line)
                        if a not in known]
    for no, line in enumerate(KERNEL_MD.read_text().splitlines(), 1):
        missing += [f"docs/kernel.md:{no}: #{a}" for a in LOCAL_LINK.findall(line) if a not in known]
    assert missing == []


def test_the_code_cites_kernel_md() -> None:
    citing = {p for p in (ROOT / "src").rglob("*.py") if CITATION.search(p.read_text())}
    assert len(citing) >= 20


@pytest.mark.parametrize(("tree", "pattern"), [("src", OUTSIDE), ("docs", OUTSIDE_DOCS)])
def test_nothing_cites_a_file_outside_the_repository(tree: str, pattern: re.Pattern[str]) -> None:
    hits = [f"{p.relative_to(ROOT)}:{no}: {line.strip()}"
            for p in sorted((ROOT / tree).rglob("*")) if p.suffix in (".py", ".md")
            for no, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_the_checker_sees_a_broken_citation() -> None:
    known = set(anchors("# Top\n\n## Watermarks\n\n```\n## not a heading\n```\n"))
    assert known == {"top", "watermarks"}
    text = "see docs/kernel.md#watermarks, [w](kernel.md#watermarks) and docs/kernel.md#not-a-heading"
    assert [a for a in CITATION.findall(text) if a not in known] == ["not-a-heading"]
    assert CITATION.findall("[docs/kernel.md#psi](kernel.md#psl)") == ["psi", "psl"]
    assert OUTSIDE.search("(FACTS.md 2.1)") and OUTSIDE.search("../shared/kernel/x")
