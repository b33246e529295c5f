"""Generate docs/cli.md from the argparse help of every (sub-)command.

    python -m memstall.cli.docgen > docs/cli.md

Commands are discovered from the parser itself (COMMAND_MODULES and nested sub-commands
such as `tune plan`), so a command added later appears without touching this file.
tests/test_docs.py fails when docs/cli.md differs from this output.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator

from memstall.cli import build_parser

WIDTH = "100"  # help is wrapped to $COLUMNS; fixed so the file does not depend on the terminal

HEADER = """# memstall command line

Generated from `--help` by `python -m memstall.cli.docgen > docs/cli.md`; do not edit by
hand. `tests/test_docs.py` fails when this file is stale.

Global flags (`--root`, `--format`, `--debug`) are accepted before or after the command.
"""


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public API for this
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for sub in action.choices.values():
                if id(sub) not in seen:  # aliases map to the same parser
                    seen.add(id(sub))
                    yield sub
                    yield from _subcommands(sub)


def _help(parser: argparse.ArgumentParser) -> str:
    text = parser.format_help()
    # Python < 3.10 titles the options section "optional arguments".
    return text.replace("\noptional arguments:\n", "\noptions:\n").rstrip() + "\n"


def generate() -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = build_parser()
        parts = [HEADER]
        for p in [parser, *_subcommands(parser)]:
            parts.append(f"\n## `{p.prog}`\n\n```text\n{_help(p)}```\n")
        return "".join(parts)
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def main() -> int:
    sys.stdout.write(generate())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
