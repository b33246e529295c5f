"""parsers/pagetypeinfo.py: inline edge cases, and the root-only file as a non-root user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memstall.errors import ParseError
from memstall.parsers.pagetypeinfo import parse_pagetypeinfo

# Hand-made in the 4.4+ layout with CONFIG_CMA (see tests/fixtures/samples/README.md).
OLD_4_4_WITH_CMA = (Path(__file__).parent / "fixtures" / "samples" / "pagetypeinfo" / "valid"
                    / "x86_64-4.4-cma-column-hand-made.txt").read_text()


def test_older_layout_with_cma_column() -> None:
    p = parse_pagetypeinfo(OLD_4_4_WITH_CMA)
    assert (p.page_block_order, p.pages_per_block) == (9, 512)
    assert [f.migrate_type for f in p.free] == ["Unmovable", "Movable", "Reclaimable", "HighAtomic",
                                              "CMA", "Isolate"]
    movable = p.free_of(0, "DMA", "Movable")
    assert movable is not None
    assert movable.free_blocks == (0,) * 9 + (1, 3)
    assert dict(p.blocks[0].blocks) == {"Unmovable": 1, "Movable": 7, "Reclaimable": 0,
                                        "HighAtomic": 0, "CMA": 0, "Isolate": 0}
    assert p.mixed_blocks == ()


def test_capped_counts_and_mixed_blocks_section() -> None:
    text = OLD_4_4_WITH_CMA.replace("      0      1      3 \nNode    0, zone      DMA, type  Rec",
                                    "      0 >100000      3 \nNode    0, zone      DMA, type  Rec")
    assert text != OLD_4_4_WITH_CMA
    text += ("\nNumber of mixed blocks    Unmovable      Movable  Reclaimable   HighAtomic          CMA"
             "      Isolate \nNode 0, zone      DMA            1            2            0            0"
             "            0            0 \n")
    p = parse_pagetypeinfo(text)
    movable = p.free_of(0, "DMA", "Movable")
    assert movable is not None
    assert movable.capped_orders == (9,)
    assert movable.free_blocks[9] == 100000
    assert [dict(z.blocks)["Movable"] for z in p.mixed_blocks] == [2]


def test_free_line_before_its_header_is_an_error() -> None:
    with pytest.raises(ParseError) as info:
        parse_pagetypeinfo("Page block order: 9\nPages per block:  512\nNode 0, zone DMA 1 2\n")
    assert info.value.line_no == 3


_CHILD = """
import json, sys
from memstall.collect import load_state
from memstall.sources import open_root
state = load_state(open_root("/"))
print(json.dumps({"pagetypeinfo": state.pagetypeinfo is not None,
                  "unavailable": dict(state.unavailable)}))
"""


@pytest.mark.live
def test_pagetypeinfo_as_non_root_is_recorded_unavailable_not_an_error() -> None:
    if not Path("/proc/pagetypeinfo").exists():
        pytest.skip("this kernel has no /proc/pagetypeinfo")
    if Path("/proc/pagetypeinfo").stat().st_mode & 0o044:
        pytest.skip("pagetypeinfo is world-readable on this kernel (< 5.6 without the backport)")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop root for the child process")
    src = str(Path(__file__).parent.parent / "src")
    done = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", _CHILD],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": src, "HOME": "/tmp"})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["pagetypeinfo"] is False
    assert result["unavailable"]["proc/pagetypeinfo"] == "permission denied"
