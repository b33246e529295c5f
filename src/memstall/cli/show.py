"""`memstall show <what>`: one kernel file (or derived table) as text or JSON."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from memstall.collect import load_state
from memstall.model.state import SystemState
from memstall.outputs import show as views
from memstall.outputs.render.jsonout import dumps
from memstall.sources import open_root

# what -> (JSON document builder, text renderer, help)
VIEWS: dict[str, tuple[Callable[[SystemState], dict[str, Any]],
                       Callable[[SystemState], str], str]] = {
    "frag": (views.frag_doc, views.frag_text,
             "free blocks, fragmentation index and unusable index per zone and order"),
    "watermarks": (views.watermarks_doc, views.watermarks_text,
                   "min/low/high/promo, boost, free and the low->high band per zone"),
}


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "show", parents=[common], help="print one kernel table (frag, watermarks, ...)",
        description="Print one kernel table for this host or a capture.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(f"  {name:<11} {help_}" for name, (_, _, help_) in VIEWS.items()))
    p.add_argument("what", choices=sorted(VIEWS), metavar="WHAT",
                   help="one of: " + ", ".join(sorted(VIEWS)))
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, io: Any) -> int:
    state = load_state(open_root(args.root))
    doc_fn, text_fn, _ = VIEWS[args.what]
    io.stdout.write(dumps(doc_fn(state)) if args.format == "json" else text_fn(state))
    return 0
