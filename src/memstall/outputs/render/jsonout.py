"""Deterministic JSON: sorted keys, two-space indent, newline at the end."""

from __future__ import annotations

import json


def dumps(document: object) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
