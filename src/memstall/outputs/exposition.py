"""The Prometheus text exposition of a registry, byte for byte what prometheus_client writes.

`prometheus_client.generate_latest` escapes and validates every label name and value of every
sample on every scrape; for memstall's ~160 samples that was a quarter of a scrape's CPU. Here
gauge and counter families whose names and labels need no escaping are written directly, with
each distinct label set formatted once and remembered (the node/zone/order sets repeat on
every scrape); any other family (a histogram, a summary, a sample with a timestamp, a label
value with a quote, backslash or newline, a name outside the legacy character set) is written
by `generate_latest` itself. tests/test_exporter.py compares the two on every fixture root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Callable

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

_go_float: Callable[[float], str] = floatToGoString  # the library's untyped float formatter

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NEEDS_ESCAPE = re.compile(r'[\\"\n]')
_MAX_CACHED = 10000
_label_texts: dict[tuple[tuple[str, str], ...], str | None] = {}
_SIMPLE_TYPES = {"gauge": "gauge", "counter": "counter", "unknown": "untyped"}


class _One:
    """A collector of one metric, for generate_latest."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> Iterable[Metric]:
        return [self.metric]


_valid_names: set[str] = set()


def _valid_name(name: str) -> bool:
    if name in _valid_names:
        return True
    if not _METRIC_NAME.fullmatch(name):
        return False
    if len(_valid_names) < _MAX_CACHED:
        _valid_names.add(name)
    return True


def _labels_text(sample: Sample) -> str | None:
    """'{a="x",b="y"}' for the sample's labels (sorted, as generate_latest), '' for none,
    None if one needs escaping."""
    if not sample.labels:
        return ""
    key = tuple(sample.labels.items())
    text = _label_texts.get(key, "")
    if text != "":
        return text
    pairs = sorted(sample.labels.items())
    if all(_LABEL_NAME.fullmatch(k) and not _NEEDS_ESCAPE.search(v) for k, v in pairs):
        text = "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"
    else:
        text = None
    if len(_label_texts) >= _MAX_CACHED:
        _label_texts.clear()
    _label_texts[key] = text
    return text


def _simple(metric: Metric, out: list[str]) -> bool:
    """Append the metric's text to `out` if it is a plain gauge or counter; False otherwise."""
    kind = _SIMPLE_TYPES.get(metric.type)
    if kind is None or not _valid_name(metric.name):
        return False
    name = metric.name + "_total" if metric.type == "counter" else metric.name
    help_ = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
    lines = [f"# HELP {name} {help_}\n", f"# TYPE {name} {kind}\n"]
    om_names = {metric.name + suffix for suffix in ("_created", "_gsum", "_gcount")}
    for s in metric.samples:
        labels = _labels_text(s)
        if (labels is None or s.timestamp is not None or s.name in om_names
                or not _valid_name(s.name)):
            return False
        lines.append(f"{s.name}{labels} {_go_float(s.value)}\n")
    out += lines
    return True


def text_exposition(registry: Collector) -> bytes:
    """generate_latest(registry), faster for plain gauges and counters."""
    out: list[str] = []
    for metric in registry.collect():
        if not _simple(metric, out):
            out.append(generate_latest(_One(metric)).decode("utf-8"))
    return "".join(out).encode("utf-8")


__all__ = ["text_exposition"]
