"""kernlog — allocation reports in kernel logs (stall, failure, OOM) and their Mem-Info.

Pure: lines of text (or bytes) in, `memstall.model.kernlog` objects out. Modules:
`unwrap` (syslog/journal/dmesg/kmsg wrappers), `classify` (what a line is), `meminfo`
(the dump as a token stream), `report` (one report being assembled), `scanner` (per-host
streams, constant memory).
"""

from __future__ import annotations

from memstall.parsers.kernlog.report import parse_dump_text, with_dump_parsed
from memstall.parsers.kernlog.scanner import Item, LogScanner, scan_lines, scan_text

__all__ = ["Item", "LogScanner", "parse_dump_text", "scan_lines", "scan_text", "with_dump_parsed"]
