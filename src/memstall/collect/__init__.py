"""Read a root into a SystemState: the file registry and the reader over it.

`registry.FILES` lists every kernel file memstall reads; `StateReader` reads them (again
and again, for long-running commands); `load_state` is one read of one root or sample.
"""

from __future__ import annotations

from memstall.collect.reader import StateReader, load_state, read_manifest, select_sample
from memstall.sources.snapshot import sample_count

__all__ = ["StateReader", "load_state", "read_manifest", "sample_count", "select_sample"]
