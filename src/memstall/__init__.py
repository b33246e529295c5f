"""memstall: find, explain and fix Linux page-allocation stalls and memory fragmentation."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
