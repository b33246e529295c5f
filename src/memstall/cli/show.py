"""`memstall show <what>`: one kernel file (or derived table) as text or JSON."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from memstall.collect import load_state
from memstall.model.state import SystemState
from memstall.outputs import show as views
from memstall.outputs import show_files as files
from memstall.outputs import show_slab
from memstall.outputs.render.jsonout import dumps
from memstall.sources import open_root

DocFn = Callable[[SystemState], dict[str, Any]]
TextFn = Callable[[SystemState], str]

# what -> (JSON document builder, text renderer, help); JSON schemas in docs/json.md.
VIEWS: dict[str, tuple[DocFn, TextFn, str]] = {
    "buddyinfo": (files.buddyinfo_doc, files.buddyinfo_text,
                  "free blocks per order for every zone (proc/buddyinfo)"),
    "zones": (files.zones_doc, files.zones_text,
              "every zone of proc/zoneinfo: free, watermarks, sizes, protection"),
    "frag": (views.frag_doc, views.frag_text,
             "free blocks, fragmentation index and unusable index per zone and order"),
    "watermarks": (views.watermarks_doc, views.watermarks_text,
                   "min/low/high/promo, boost, free and the low->high band per zone"),
    "vmstat": (files.vmstat_doc, files.vmstat_text,
               "proc/vmstat counters (and per-node values)"),
    "meminfo": (files.meminfo_doc, files.meminfo_text, "proc/meminfo (and per-node values)"),
    "psi": (files.psi_doc, files.psi_text, "memory pressure stall information (4.20+)"),
    "sysctl": (files.sysctl_doc, files.sysctl_text, "every readable vm.* sysctl"),
    "thp": (files.thp_doc, files.thp_text, "transparent hugepage settings"),
    "kthreads": (files.kthreads_doc, files.kthreads_text,
                 "CPU time of kswapd and kcompactd threads"),
    "extfrag": (files.extfrag_doc, files.extfrag_text,
                "debugfs extfrag_index/unusable_index, checked against buddyinfo"),
    "slab": (show_slab.slab_doc, show_slab.slab_text,
             "slab caches by memory, and which reclaim can free (proc/slabinfo, root only)"),
}

# what -> the SystemState fields it shows: a malformed file behind one of them is an error
# naming its file and line; any other malformed file is left out with a note.
NEEDS: dict[str, tuple[str, ...]] = {
    "buddyinfo": ("buddyinfo",), "zones": ("zoneinfo",), "frag": ("buddyinfo",),
    "watermarks": ("zoneinfo", "sysctl_vm"), "vmstat": ("vmstat", "node_vmstat"),
    "meminfo": ("meminfo", "node_meminfo"), "psi": ("psi_memory",), "sysctl": ("sysctl_vm",),
    "thp": ("thp",), "kthreads": ("kthreads", "uptime_seconds"),
    "extfrag": ("extfrag_index", "unusable_index", "buddyinfo"),
    "slab": ("slabinfo",),
}


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "show", parents=[common], help="print one kernel table (frag, watermarks, ...)",
        description="Print one kernel table for this host or a capture.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="tables:\n" + "\n".join(f"  {name:<11} {help_}"
                                       for name, (_, _, help_) in VIEWS.items()))
    p.add_argument("what", choices=list(VIEWS), metavar="WHAT",
                   help="one of: " + ", ".join(VIEWS))
    p.add_argument("--sample", type=int, default=None, metavar="K",
                   help="sample K of a `snapshot --samples N` capture (0 = the first)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, io: Any) -> int:
    state = load_state(open_root(args.root), sample=args.sample, needs=NEEDS[args.what])
    doc_fn, text_fn, _ = VIEWS[args.what]
    if args.format == "json":
        io.stdout.write(dumps(doc_fn(state)))
        return 0
    text = text_fn(state)
    for note in state.notes:
        io.stderr.write(f"memstall: note: {note}\n")
    io.stdout.write(text)
    return 0
