"""The interactive `memstall top` (outputs/top_tui.py, the [tui] extra), driven in a real terminal.

tmux runs the real program on a two-node fixture root in a detached session on a private
socket; the test sends keys and reads the screen with capture-pane: zones and numbers shown,
`p` pauses, `+` lengthens the interval, `n` switches node, `?` shows the help, `q` quits with the
terminal restored (the shell's next line is on the normal screen). Also at 200 columns, and
with NO_COLOR (no colour escapes on the screen).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import replay_db
from conftest import FIXTURES
from memstall.outputs.top import FrameOptions
from memstall.outputs.top_tui import ViewState, on_key, screen
from memstall.pipeline import Sampler
from memstall.sources import open_root

SEED = FIXTURES / "snapshots" / "x86_64-4.9-handmade-seed-2node-256g"
SRC = Path(__file__).parent.parent / "src"
_SESSIONS = iter(range(10**6))


def test_keys_change_the_view() -> None:
    tick = Sampler(open_root(str(SEED))).sample()
    view = ViewState(FrameOptions(interval_seconds=1.0))
    assert on_key(view, "p", tick).options.paused
    assert on_key(on_key(view, "p", tick), "p", tick).options.paused is False
    assert on_key(view, "+", tick).options.interval_seconds == 2.0
    assert on_key(view, "-", tick).options.interval_seconds == 0.5
    nodes = [view.options.node]
    for _ in range(3):
        view = on_key(view, "n", tick)
        nodes.append(view.options.node)
    assert nodes == [None, 0, 1, None]
    zones = [on_key(view, "z", tick).options.zone, on_key(on_key(view, "z", tick), "z", tick).options.zone]
    assert zones == ["DMA", "DMA32"]
    helped = on_key(view, "?", tick)
    assert helped.help and "q      quit" in screen(tick, helped, 80, 24).plain
    assert not on_key(helped, "x", tick).help and not on_key(helped, "x", tick).quit
    assert on_key(view, "q", tick).quit


class Tmux:
    """One detached tmux session on a private server socket (never the user's tmux)."""

    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", name, "-f", os.devnull]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], check=True, capture_output=True, text=True).stdout

    def screen(self, escapes: bool = False) -> str:
        return self("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "top")

    def wait_for(self, what: Callable[[str], bool], label: str, timeout_seconds: float = 15.0) -> str:
        deadline = time.monotonic() + timeout_seconds
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if what(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"screen never showed {label}:\n{text}")


@pytest.fixture
def tmux() -> Iterator[Callable[..., Tmux]]:
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux (apt-get install tmux; .ci/run installs it)")
    started: list[Tmux] = []

    def start(width: int, height: int, env: str = "", python_flags: str = "", args: str = "") -> Tmux:
        t = Tmux(f"memstall-test-{os.getpid()}-{next(_SESSIONS)}")
        started.append(t)
        python = f"{shlex.quote(sys.executable)} {python_flags}"
        args = args or f"--root {shlex.quote(str(SEED))} top"
        cmd = f"{env} PYTHONPATH={shlex.quote(str(SRC))} {python} -m memstall {args}; echo EXIT=$?; sleep 60"
        t("new-session", "-d", "-s", "top", "-x", str(width), "-y", str(height), "sh", "-c", cmd)
        return t

    yield start
    for t in started:
        subprocess.run([*t.base, "kill-server"], capture_output=True, check=False)


def test_top_in_a_real_terminal_at_80x24(tmux: Callable[..., Tmux]) -> None:
    t = tmux(80, 24)
    first = t.wait_for(lambda s: "n1 Normal" in s, "the zones")
    assert "n0 Normal      free   42.9M [!!m" in first and "frag@o6 0.984" in first
    assert "CRITICAL ZONE_BELOW_WATERMARK" in first
    assert all(len(line) <= 80 for line in first.splitlines())
    t("send-keys", "-t", "top", "p")
    t.wait_for(lambda s: s.startswith("memstall top  PAUSED"), "PAUSED")
    t("send-keys", "-t", "top", "+")
    t.wait_for(lambda s: "every 2s" in s.splitlines()[0], "the interval of 2 s")
    t("send-keys", "-t", "top", "n", "n")
    node1 = t.wait_for(lambda s: "node 1" in s.splitlines()[0], "node 1")
    assert "n1 Normal" in node1 and "n0 DMA" not in node1
    t("send-keys", "-t", "top", "?")
    t.wait_for(lambda s: "memstall top: keys" in s and "n      next node" in s, "the help")
    t("send-keys", "-t", "top", "x")
    t.wait_for(lambda s: "n1 Normal" in s, "the frame after the help")
    t("send-keys", "-t", "top", "q")
    done = t.wait_for(lambda s: "EXIT=0" in s, "the exit")
    assert "memstall top" not in done  # the alternate screen is gone: the terminal is restored


def test_top_uses_200_columns_and_resizes(tmux: Callable[..., Tmux]) -> None:
    t = tmux(200, 50)
    wide = t.wait_for(lambda s: "n1 Normal" in s, "the zones")
    lines = wide.splitlines()
    assert max(len(line) for line in lines) > 150 and all(len(line) <= 200 for line in lines)
    assert "11k 32 17 11 4 1 0 0 0 0 0" in wide  # per-order counts appear from 120 columns
    t("resize-window", "-t", "top", "-x", "80", "-y", "24")
    narrow = t.wait_for(lambda s: max(len(line) for line in s.splitlines()) <= 80 and "n1 Normal" in s,
                        "the frame redrawn at 80 columns")
    assert "11k 32" not in narrow
    t("send-keys", "-t", "top", "q")
    t.wait_for(lambda s: "EXIT=0" in s, "the exit")


def test_colour_and_no_color(tmux: Callable[..., Tmux]) -> None:
    coloured = tmux(80, 24)
    coloured.wait_for(lambda s: "CRITICAL" in s, "the findings")
    assert "31mCRITICAL" in coloured.screen(escapes=True)  # red (SGR 31), however tmux groups it
    plain = tmux(80, 24, env="NO_COLOR=1")
    plain.wait_for(lambda s: "CRITICAL" in s, "the findings")
    assert "31m" not in plain.screen(escapes=True)


def test_without_the_extra_top_says_which_to_install(tmux: Callable[..., Tmux]) -> None:
    """`python -S`: no site-packages, so no rich; the stdlib-only core still runs from src/."""
    t = tmux(80, 24, python_flags="-S")
    done = t.wait_for(lambda s: "EXIT=" in s, "the exit")
    assert "memstall: error: the interactive `memstall top` needs the [tui] extra: pip install " \
           "'memstall[tui]'" in done.replace("\n", "")
    assert "EXIT=2" in done and "Traceback" not in done


def test_replay_keys_in_a_real_terminal(tmux: Callable[..., Tmux], tmp_path: Path) -> None:
    """`top --db` from the first sample: right steps 10 s, `]` jumps to the stall report's
    sample, `]` again to the tune marker's, `g` back to the first, `q` restores the terminal."""
    db = replay_db.build(tmp_path)
    t = tmux(80, 24, args=f"top --db {shlex.quote(str(db))} --at 2026-12-04T10:00:00Z")
    first = t.wait_for(lambda s: "REPLAY 2026-12-04 10:00:00 UTC  1/5" in s, "the first sample")
    assert "n0 Normal      free   42.9M [!!m" in first and "rates/s  none: the first sample" in first
    t("send-keys", "-t", "top", "Right")
    t.wait_for(lambda s: "REPLAY 2026-12-04 10:00:10 UTC  2/5" in s, "the time after one step right")
    t("send-keys", "-t", "top", "]")
    stall = t.wait_for(lambda s: "10:00:20 UTC  3/5" in s, "the stall report's sample")
    assert "event    10:00:15 -5s  stall  py\\u001b]52;c;aGk=\\u0007\\u202ethon" in stall
    t("send-keys", "-t", "top", "PageDown")
    marker = t.wait_for(lambda s: "10:00:40 UTC  5/5" in s, "the tune marker's sample")
    assert "tune     10:00:32 -8s  apply" in marker
    t("send-keys", "-t", "top", "Left")
    t.wait_for(lambda s: "10:00:30 UTC  4/5" in s, "one step left")
    t("send-keys", "-t", "top", "g")
    t.wait_for(lambda s: "10:00:00 UTC  1/5" in s, "the first sample again")
    t("send-keys", "-t", "top", "q")
    done = t.wait_for(lambda s: "EXIT=0" in s, "the exit")
    assert "REPLAY" not in done  # the alternate screen is gone: the terminal is restored
