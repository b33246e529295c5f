"""The interactive `memstall top` (the optional [tui] extra: rich), drawing outputs/top.py frames.

rich, not textual: the frame is already a pure function of (tick, width, height, options), so
all the view needs is a full-screen alternate buffer, colour with a NO_COLOR fallback and the
terminal restored on exit; rich's Console.screen gives that in one small dependency
(textual would bring an app framework, CSS and its own event loop for five keys). Keys are
read here from stdin in cbreak mode (termios), polled with select between refreshes; the
terminal size is read on every loop, so a resize redraws at the new size within 0.1 s.
Every line drawn comes from render_frame, which escaped the host's strings with safe_text,
and is handed to rich as Text (never markup), since rich writes to the terminal directly.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty
from dataclasses import dataclass, replace
from typing import Callable, Protocol, TextIO

from rich.console import Console
from rich.text import Text

from memstall.model.kernlog import AllocEvent
from memstall.model.state import SystemState
from memstall.outputs.top import EVENT_LINES, FrameOptions, node_ids, render_frame, zone_views
from memstall.outputs.top_replay import moment_state, replay_frame
from memstall.pipeline.kmsg_events import KmsgEvents
from memstall.pipeline.sampler import Sampler, Tick
from memstall.store.replay import Moment, Replay

INTERVALS_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
POLL_SECONDS = 0.1
HELP = """memstall top: keys

  q      quit
  p      pause / resume sampling
  + -    longer / shorter interval ({intervals} s)
  n      next node (all nodes, then each one)
  z      zone filter (all zones, then each zone name)
  ?      this help (any key closes it)

Bars: free memory, `m` `l` `h` the min/low/high watermarks, `!` below min.
Orders: one column per order 0..10, taller for more free blocks, `x` exhausted.
"""
REPLAY_HELP = """memstall top --db: keys

  q            quit
  left right   one sample back / forward
  [ ] PgUp PgDn  the previous / next log event or tune marker
  g G Home End the first / last sample
  n            next node (all nodes, then each one)
  z            zone filter (all zones, then each zone name)
  ?            this help (any key closes it)

Events and tune markers show at the first sample at or after their time.
"""
REPLAY_KEYS = {"left": "back", "right": "forward", "[": "previous mark", "pgup": "previous mark",
               "]": "next mark", "pgdn": "next mark", "g": "first", "home": "first", "G": "last",
               "end": "last"}
"""Replay key -> move (see `replay_move`)."""


class TracePoll(Protocol):
    """--trace: the panel's lines for the stalls since the last call (the seconds since then)."""

    def __call__(self, interval_seconds: float | None) -> list[str]: ...


_ESCAPES = {"\x1b[D": "left", "\x1bOD": "left", "\x1b[C": "right", "\x1bOC": "right",
            "\x1b[5~": "pgup", "\x1b[6~": "pgdn", "\x1b[H": "home", "\x1bOH": "home", "\x1b[1~": "home",
            "\x1b[F": "end", "\x1bOF": "end", "\x1b[4~": "end"}


@dataclass
class ViewState:
    """What the keys change."""

    options: FrameOptions
    help: bool = False
    quit: bool = False


def _cycle(values: tuple[object, ...], current: object) -> object:
    """None, then each value in turn, then None again."""
    choices = (None, *values)
    return choices[(choices.index(current) + 1) % len(choices)] if current in choices else None


def _step_interval(interval: float, up: bool) -> float:
    longer = [s for s in INTERVALS_SECONDS if s > interval]
    shorter = [s for s in INTERVALS_SECONDS if s < interval]
    if up:
        return longer[0] if longer else interval
    return shorter[-1] if shorter else interval


def split_keys(data: str) -> list[str]:
    """Typed input as keys: one character each, or the name of an arrow/page/home/end sequence
    (`left`, `pgup`, ...); another escape sequence is one `esc` key, never its characters."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        if data[i] != "\x1b":
            keys.append(data[i])
            i += 1
            continue
        known = next(((seq, n) for seq, n in _ESCAPES.items() if data.startswith(seq, i)), None)
        if known is not None:
            keys.append(known[1])
            i += len(known[0])
            continue
        j = i + 1
        if j < len(data) and data[j] in "[O":  # CSI/SS3: parameters up to a final byte @..~
            j += 1
            while j < len(data) and not "@" <= data[j] <= "~":
                j += 1
            j += 1
        keys.append("esc")
        i = j
    return keys


def on_key(view: ViewState, key: str, tick: Tick | SystemState) -> ViewState:
    """The view after `key` (pure: tests call it without a terminal). `tick`: what is shown
    (a live Tick, or a replayed sample's state), for the nodes and zones to cycle through."""
    state = tick if isinstance(tick, SystemState) else tick.state
    if view.help:
        return replace(view, help=False, quit=key == "q")
    o = view.options
    interval = o.interval_seconds or 1.0
    if key == "q":
        return replace(view, quit=True)
    if key == "?":
        return replace(view, help=True)
    if key == "p":
        o = replace(o, paused=not o.paused)
    elif key in "+=":
        o = replace(o, interval_seconds=_step_interval(interval, up=True))
    elif key in "-_":
        o = replace(o, interval_seconds=_step_interval(interval, up=False))
    elif key == "n":
        o = replace(o, node=_cycle(node_ids(state), o.node))  # type: ignore[arg-type]
    elif key == "z":
        names = tuple(dict.fromkeys(v.zone for v in zone_views(state)))
        o = replace(o, zone=_cycle(names, o.zone))  # type: ignore[arg-type]
    return replace(view, options=o)


def replay_move(rec: Replay, t_ms: int, move: str) -> int:
    """The sample time after a REPLAY_KEYS move from the sample at `t_ms`."""
    if move in ("back", "forward"):
        return rec.step(t_ms, -1 if move == "back" else 1)
    if move in ("previous mark", "next mark"):
        return rec.mark(t_ms, later=move == "next mark")
    found = rec.first() if move == "first" else rec.last()
    return t_ms if found is None else found


def _styled(line: str) -> Text:
    text = Text(line)  # plain text, never markup: the line may hold a host's strings
    if line.startswith("CRITICAL"):
        text.stylize("bold red")
    elif line.startswith(("WARNING", "event")):
        text.stylize("yellow")
    elif line.startswith("tune "):
        text.stylize("magenta")
    elif line.startswith("memstall top"):
        text.stylize("bold reverse")
    elif line.startswith("n") and "[" in line:
        start = line.index("[")
        for i, ch in enumerate(line[start:], start):
            if ch == "!":
                text.stylize("bold red", i, i + 1)
            elif ch in "mlh":
                text.stylize("bold cyan", i, i + 1)
    return text


def screen(tick: Tick, view: ViewState, width: int, height: int,
           events: tuple[AllocEvent, ...] = (), trace: tuple[str, ...] = ()) -> Text:
    """Everything on the screen now: the frame, or the help."""
    if view.help:
        intervals = "/".join(f"{s:g}" for s in INTERVALS_SECONDS)
        lines = HELP.format(intervals=intervals).splitlines()[:height]
        return Text("\n".join(line[:width] for line in lines))
    return _text(render_frame(tick, width, height, view.options, events, trace))


def replay_screen(moment: Moment, view: ViewState, width: int, height: int) -> Text:
    """Everything on the screen in a replay: the recorded moment's frame, or the replay help."""
    if view.help:
        return Text("\n".join(line[:width] for line in REPLAY_HELP.splitlines()[:height]))
    return _text(replay_frame(moment, width, height, view.options))


def _text(lines: list[str]) -> Text:
    out = Text()
    for k, line in enumerate(lines):
        if k:
            out.append("\n")
        out.append_text(_styled(line))
    return out


def _read_keys(stream: TextIO, timeout_seconds: float) -> str:
    """The keys typed within `timeout_seconds` ("" if none); end of input reads as `q`."""
    ready, _, _ = select.select([stream], [], [], max(timeout_seconds, 0.0))
    if not ready:
        return ""
    data = os.read(stream.fileno(), 64).decode(errors="replace")
    return data or "q"


def _size(console: Console) -> tuple[int, int]:
    """The terminal's size now, from the terminal itself: rich prefers $COLUMNS/$LINES, which a
    shell exports once and does not update on resize."""
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except OSError:
        return console.size.width, console.size.height
    return size.columns, size.lines


def run_tui(sampler: Sampler, interval_seconds: float, *, no_color: bool,
            kmsg: KmsgEvents | None = None, trace: TracePoll | None = None) -> int:
    """Full-screen view until `q` (or Ctrl-C); the terminal is restored either way.
    `kmsg`: the kernel's allocation reports as they are printed (live, as root); `trace`:
    the `--trace` lines of the stalls since its last call (given the interval), once a tick."""
    view = ViewState(FrameOptions(interval_seconds=interval_seconds or 1.0))
    feeds = _Feeds(kmsg, trace)
    return _full_screen(no_color,
                        lambda console, live, stdin: _loop(sampler, console, live, view, stdin, feeds))


def run_replay_tui(rec: Replay, t_ms: int, *, no_color: bool) -> int:
    """Full-screen replay of a record database from the sample at `t_ms`, until `q`."""
    return _full_screen(no_color, lambda console, live, stdin: _replay_loop(rec, t_ms, console, live, stdin))


def _full_screen(no_color: bool, loop: Callable[[Console, object, TextIO], None]) -> int:
    console = Console(no_color=no_color, highlight=False)
    stdin = sys.stdin
    saved = termios.tcgetattr(stdin.fileno())
    try:
        tty.setcbreak(stdin.fileno())
        with console.screen(hide_cursor=True) as live:
            loop(console, live, stdin)
    finally:
        termios.tcsetattr(stdin.fileno(), termios.TCSADRAIN, saved)
    return 0


def _replay_loop(rec: Replay, t_ms: int, console: Console, live: object, stdin: TextIO) -> None:
    view = ViewState(FrameOptions())
    t = rec.at(t_ms) or t_ms
    moment = rec.moment(t)
    drawn: tuple[object, ...] = ()
    while not view.quit and moment is not None:
        width, height = _size(console)
        key_state = (moment.point.t_ms, view, width, height)
        if key_state != drawn:
            console.size = (width, height)
            live.update(replay_screen(moment, view, min(width, 200), height))  # type: ignore[attr-defined]
            drawn = key_state
        for key in split_keys(_read_keys(stdin, POLL_SECONDS)):
            move = None if view.help else REPLAY_KEYS.get(key)
            if move is not None:
                t = replay_move(rec, moment.point.t_ms, move)
                moment = rec.moment(t) or moment  # a sample that does not decode: stay
            elif key not in ("p", "+", "=", "-", "_"):  # sampling keys: nothing to sample
                view = on_key(view, key, moment_state(moment))
            if view.quit:
                break


@dataclass(frozen=True)
class _Feeds:
    kmsg: KmsgEvents | None
    trace: TracePoll | None


def _loop(sampler: Sampler, console: Console, live: object, view: ViewState, stdin: TextIO,
          feeds: _Feeds) -> None:
    clock = sampler.clock
    kmsg = feeds.kmsg
    tick = sampler.sample()
    last = clock.monotonic()
    trace: tuple[str, ...] = tuple(feeds.trace(None)) if feeds.trace else ()
    events: tuple[AllocEvent, ...] = ()
    due = clock.monotonic() + (view.options.interval_seconds or 1.0)
    drawn: tuple[object, ...] = ()
    while not view.quit:
        now = clock.monotonic()
        if now >= due:
            if not view.options.paused:
                tick = sampler.sample()
                if kmsg is not None:
                    events = (*events, *kmsg.poll())[-EVENT_LINES:]
                if feeds.trace is not None:
                    trace = tuple(feeds.trace(round(now - last, 1)))
                last = now
            due = now + (view.options.interval_seconds or 1.0)
        width, height = _size(console)
        key_state = (id(tick), view, width, height, events, trace)
        if key_state != drawn:
            console.size = (width, height)  # rich lays out to this, not to a stale $COLUMNS
            live.update(screen(tick, view, min(width, 200), height, events, trace))  # type: ignore[attr-defined]
            drawn = key_state
        for key in split_keys(_read_keys(stdin, min(POLL_SECONDS, due - clock.monotonic()))):
            view = on_key(view, key, tick)
            if view.quit:
                break


__all__ = ["HELP", "INTERVALS_SECONDS", "REPLAY_HELP", "REPLAY_KEYS", "ViewState", "on_key", "replay_move",
           "replay_screen", "run_replay_tui", "run_tui", "screen", "split_keys"]
