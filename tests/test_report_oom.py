"""The OOM reports on the one-moment page (`memstall report --log`), opened in real headless
Chromium: the story first, then the zones, the RAM bar, the largest tasks and the cgroup counters.

Inputs: OOMAnalyser's test logs in ../shared/peer-parity/oomanalyser (read in place); one of them
with the OOM victim's name made hostile in the test. Numbers are checked against the log's own
text with regular expressions, not against memstall's parser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SHARED, run_cli
from test_report import _check_in_chromium

PEER = SHARED / "peer-parity" / "oomanalyser"
HOSTILE_COMM = "<svg/onload=alert(1)>\x1b[31m\u202e"

pytestmark = pytest.mark.skipif(not PEER.is_dir(),
                                reason="../shared/peer-parity is not beside the repository")


def _page(tmp_path: Path, log: Path) -> str:
    out = tmp_path / "oom.html"
    r = run_cli("report", "--log", str(log), "-o", str(out))
    assert r.code == 0, r.err
    return out.read_text()


def _story(dom: str) -> list[tuple[str, str]]:
    block = re.search(r'<dl class="story">(.*?)</dl>', dom, re.S)
    assert block, "no story"
    return re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block.group(1), re.S)


def test_the_oom_story_and_its_numbers_in_chromium(tmp_path: Path) -> None:
    text = (PEER / "rhel7.log").read_text().replace("mysqld", HOSTILE_COMM)
    log = tmp_path / "hostile-rhel7.log"
    log.write_text(text)
    written = _page(tmp_path, log)
    dom = _check_in_chromium(tmp_path / "oom.html", tmp_path, "report-oom-rhel7")
    assert "<h2>Out-of-memory reports</h2>" in dom
    story = _story(dom)
    assert [label for label, _ in story] == ["asked", "failed", "why", "killed", "tasks"]
    said = dict(story)
    assert said["asked"].startswith("sed (pid 29481) asked for 1 page (order 0)")
    # the victim as the kernel named it, shown as text: no element, no terminal control
    victim = re.search(r"Killed process (\d+) \((.*?)\) total-vm", text)
    assert victim and victim.group(2) == HOSTILE_COMM
    shown = "&lt;svg/onload=alert(1)&gt;\\u001b[31m\\u202e"  # entities, and controls made visible
    assert said["killed"].startswith(f"{shown} (pid {victim.group(1)})"), said["killed"]
    assert "<svg/onload" not in written and "\x1b" not in written and "\u202e" not in written
    # the RAM bar: anon = active_anon + inactive_anon of the report's Mem-Info, in kB
    anon = re.search(r"active_anon:(\d+) inactive_anon:(\d+)", text)
    assert anon
    anon_kib = (int(anon.group(1)) + int(anon.group(2))) * 4
    bar = re.search(r'<svg[^>]*class="oom-ram"[^>]*>(.*?)</svg>\s*<ul class="legend-list">(.*?)</ul>',
                    dom, re.S)
    assert bar and f"anon (incl. shmem): {_human_kib(anon_kib)}" in bar.group(1)
    assert f"anon (incl. shmem) {_human_kib(anon_kib)}</li>" in bar.group(2)
    assert len(re.findall(r"<rect ", bar.group(1))) >= 4  # anon, file, slab, free at least
    # the largest task of the table is the victim: its rss column (pages x 4 kB)
    rows = re.findall(r"^\[\s*(\d+)\]\s+\d+\s+\d+\s+\d+\s+(\d+)\s.*?(\S+)$", text, re.M)
    biggest = max(rows, key=lambda r: int(r[1]))
    tasks = dom.split("<h4>Largest tasks (task table)</h4>", 1)[1]
    first = re.search(r"<tr><td[^>]*>(\d+)</td><td>(.*?)</td><td[^>]*>(\d+)</td>", tasks)
    assert first and first.group(1) == biggest[0] and int(first.group(3)) == int(biggest[1]) * 4


def test_a_cgroup_oom_shows_its_counters(tmp_path: Path) -> None:
    log = PEER / "proxmox_cgroup_v2_swap.log"
    _page(tmp_path, log)
    dom = _check_in_chromium(tmp_path / "oom.html", tmp_path, "report-oom-cgroup")
    said = dict(_story(dom))
    assert "memory cgroup" in said["why"] and "hit its limit, not the machine" in said["why"]
    counters = dom.split("<h4>Memory cgroup counters</h4>", 1)[1].split("</table>", 1)[0]
    text = log.read_text()
    for name, usage in re.findall(r"\] (memory|swap): usage (\d+)kB", text):
        assert re.search(rf"<td>{re.escape(name)}</td><td[^>]*>{usage}</td>", counters), name


def test_a_log_without_oom_has_no_oom_section(tmp_path: Path) -> None:
    seed = Path(__file__).parent / "fixtures" / "kernlog" / "corpus" / "000-seed-cold-storage-4.9.log"
    assert "Out-of-memory reports" not in _page(tmp_path, seed)


def _human_kib(kib: int) -> str:
    from memstall.units import human_bytes

    return human_bytes(kib * 1024)
