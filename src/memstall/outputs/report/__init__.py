"""`memstall report`: one self-contained HTML page, from a record database or one moment.

Why SVG written by Python, not a vendored chart library: the core stays standard-library
only (no `[report]` extra, nothing to vendor, audit or update), the page needs no script to
draw (it prints and shows even with JavaScript off; the small inline script only adds hover
values), and the size is under our control: every time chart is COLUMNS columns wide
whatever the period, with min, mean and max per column, so 24 h at 10 s is a few hundred kB.
Heat maps are PNG images written with zlib (one pixel per column and order), far smaller
than one SVG rectangle per cell. A Content-Security-Policy admits only the page's own
script (by hash): even a name that slipped past escaping could not run.
"""

from __future__ import annotations

from memstall.outputs.report.history import render_history
from memstall.outputs.report.moment import render_moment

__all__ = ["render_history", "render_moment"]
