"""Watermarks boosted on a kernel whose zoneinfo prints no `boost` line (issue 9).

No real capture at hand shows it (the 5.x captures of ../shared/real-roots are stale or
have watermark_boost_factor 0), so the input is handmade from the real 6.18 capture
tests/fixtures/snapshots/x86_64-6.18-idle, whose Normal zone matches the formula to the
page: its `boost` lines removed, and its Normal min/low/high raised as a boost would raise
them, or as no boost can.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"


def _root(tmp_path: Path, raise_by: tuple[int, int, int], factor: int | None = None) -> Path:
    root = tmp_path / "idle"
    shutil.copytree(IDLE, root, symlinks=True)
    zi = root / "proc/zoneinfo"
    text = re.sub(r"\n +boost +\d+", "", zi.read_text())
    head, normal = text.split("zone   Normal\n", 1)
    normal = re.sub(r"\n +promo +\d+", "", normal, count=1)  # 6.12+ prints promo: keep to min/low/high
    for name, by in zip(("min", "low", "high"), raise_by):
        normal = re.sub(rf"(\n +{name} +)(\d+)", lambda m, by=by: f"{m.group(1)}{int(m.group(2)) + by}",
                        normal, count=1)
    zi.write_text(head + "zone   Normal\n" + normal)
    if factor is not None:
        (root / "proc/sys/vm/watermark_boost_factor").write_text(f"{factor}\n")
    return root


def _normal(root: Path) -> dict[str, object]:
    doc = json.loads(run_cli("--root", str(root), "--format", "json", "show", "watermarks").out)
    return next(z for z in doc["zones"] if z["zone"] == "Normal")


def test_the_unmodified_normal_zone_matches_and_has_no_inferred_boost(tmp_path: Path) -> None:
    z = _normal(_root(tmp_path, (0, 0, 0)))
    assert (z["computed_matches"], z["inferred_boost_pages"]) == (True, None)


def test_one_pageblock_on_min_low_high_is_an_inferred_boost(tmp_path: Path) -> None:
    root = _root(tmp_path, (512, 512, 512))
    z = _normal(root)
    assert (z["computed_matches"], z["inferred_boost_pages"], z["boost_pages"]) == (True, 512, 0)
    text = run_cli("--root", str(root), "show", "watermarks").out
    normal_row = text.split("node0/Normal")[1].split("\n")[0]
    assert "boosted by 512 pages (inferred)" in normal_row and "boosted (inferred): " in text


@pytest.mark.parametrize(("raise_by", "factor", "why"), [
    ((512, 512, 600), None, "min, low and high differ by different amounts"),
    ((10**6, 10**6, 10**6), None, "more than watermark_boost_factor allows"),
    ((512, 512, 512), 0, "watermark_boost_factor 0: the kernel never boosts"),
])
def test_a_difference_no_boost_explains_stays_stale(tmp_path: Path, raise_by: tuple[int, int, int],
                                                    factor: int | None, why: str) -> None:
    z = _normal(_root(tmp_path, raise_by, factor))
    assert (z["computed_matches"], z["inferred_boost_pages"]) == (False, None), why


def test_whatif_removes_an_inferred_boost_from_before(tmp_path: Path) -> None:
    clean = json.loads(run_cli("--root", str(IDLE), "--format", "json", "whatif", "--set",
                               "vm.watermark_scale_factor=200").out)
    doc = json.loads(run_cli("--root", str(_root(tmp_path, (512, 512, 512))), "--format", "json",
                             "whatif", "--set", "vm.watermark_scale_factor=200").out)

    def normal(d: dict[str, object]) -> dict[str, object]:
        return next(z for z in d["zones"] if z["zone"] == "Normal")  # type: ignore[attr-defined]

    assert normal(doc)["before"] == normal(clean)["before"]  # the boost is not a setting
    assert normal(doc)["after"] == normal(clean)["after"]
    assert ("node0/Normal: watermarks boosted by 512 pages (inferred: zoneinfo prints no boost "
            "line); 'before' has the boost removed") in doc["notes"]
