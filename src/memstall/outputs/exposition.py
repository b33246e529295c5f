"""The Prometheus text exposition of a registry, byte for byte what prometheus_client writes.

memstall's own collectors build `Family` rows (label values, value) rather than
prometheus_client Metric objects: on the scrape path (`text_exposition` of a `TextRegistry`)
each family's text is written from its rows, with the HELP/TYPE lines and each distinct
label set formatted once and remembered; `Family.metric()` is the same family as a Metric,
for `collect()` and `generate_latest` (tests/test_exporter.py compares the two byte for byte
on every capture).

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
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Callable, Protocol, Union, runtime_checkable

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
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
        lines.append(f"{s.name}{labels} {go_float(s.value)}\n")
    out += lines
    return True


@dataclass
class Family:
    """A gauge or counter family as rows of (label values, value), in the order added."""

    name: str
    """Without `_total`: a counter's samples get it, as CounterMetricFamily's."""
    documentation: str
    type: str
    """'gauge' or 'counter'."""
    labels: tuple[str, ...] = ()
    rows: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def add(self, values: tuple[str, ...], value: float) -> None:
        self.rows.append((values, value))

    def metric(self) -> Metric:
        """The same family as prometheus_client's GaugeMetricFamily or CounterMetricFamily."""
        kind = GaugeMetricFamily if self.type == "gauge" else CounterMetricFamily
        metric = kind(self.name, self.documentation, labels=list(self.labels))
        for values, value in self.rows:
            metric.add_metric(list(values), value)
        return metric


Item = Union[Family, Metric]


@runtime_checkable
class FamilyCollector(Protocol):
    """A collector that also hands out its families as `Family` rows (or Metrics)."""

    def collect_families(self) -> Iterable[Item]: ...


def as_metrics(items: Iterable[Item]) -> Iterator[Metric]:
    """`collect()` of a FamilyCollector: each Family as its Metric."""
    for item in items:
        yield item.metric() if isinstance(item, Family) else item


class TextRegistry(CollectorRegistry):
    """A registry whose FamilyCollectors `text_exposition` writes from their rows. Its
    collectors are collected in the order registered; it has no target_info."""

    def __init__(self) -> None:
        super().__init__(auto_describe=False)
        self._ordered: list[Collector] = []
        self._ordered_lock = threading.Lock()

    def register(self, collector: Collector) -> None:
        super().register(collector)
        with self._ordered_lock:
            self._ordered.append(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        with self._ordered_lock:
            self._ordered.remove(collector)

    def collectors(self) -> list[Collector]:
        with self._ordered_lock:
            return list(self._ordered)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors():
            yield from collector.collect()


_heads: dict[tuple[str, str, str], tuple[str, str] | None] = {}
_row_labels: dict[tuple[tuple[str, ...], tuple[str, ...]], str | None] = {}


def _head(family: Family) -> tuple[str, str] | None:
    """(the HELP and TYPE lines, the samples' name), or None for a name to leave to the library."""
    key = (family.name, family.type, family.documentation)
    if key in _heads:
        return _heads[key]
    head: tuple[str, str] | None = None
    if (family.type in ("gauge", "counter") and _valid_name(family.name)
            and not (family.type == "counter" and family.name.endswith("_total"))):
        name = family.name + "_total" if family.type == "counter" else family.name
        help_ = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        head = (f"# HELP {name} {help_}\n# TYPE {name} {family.type}\n", name)
    if len(_heads) >= _MAX_CACHED:
        _heads.clear()
    _heads[key] = head
    return head


_MISS = object()


def _row_label_text(names: tuple[str, ...], values: tuple[str, ...]) -> str | None:
    """'{a="x",b="y"}' (sorted by name, as generate_latest), '' for none, None if one needs
    escaping or the names repeat; remembered."""
    pairs = sorted(zip(names, values))
    text: str | None = None
    if len(names) != len(values) or len(set(names)) != len(names):
        text = None  # as dict(zip(...)) would not keep them: the library's way
    elif all(_LABEL_NAME.fullmatch(k) and not _NEEDS_ESCAPE.search(v) for k, v in pairs):
        text = "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}" if pairs else ""
    if len(_row_labels) >= _MAX_CACHED:
        _row_labels.clear()
    _row_labels[(names, values)] = text
    return text


def go_float(value: float) -> str:
    """prometheus_client's floatToGoString, without its call for the common finite values."""
    text = repr(float(value))
    if text[-1] in "fn" or (value > 0 and text.find(".") > 6):  # inf, nan; 1e+06 and up
        return _go_float(value)
    return text


def _family_text(family: Family, out: list[str]) -> bool:
    """Append the family's text to `out`; False (nothing appended) if the library must write it."""
    head = _head(family)
    if head is None:
        return False
    lines, name, names, cached = [head[0]], head[1], family.labels, _row_labels.get
    for values, value in family.rows:
        labels = cached((names, values), _MISS)
        if labels is _MISS:
            labels = _row_label_text(names, values)
        if labels is None:
            return False
        text = repr(float(value))  # go_float, inline: a scrape formats ~160 values
        if text[-1] in "fn" or (value > 0 and text.find(".") > 6):
            text = _go_float(value)
        lines.append(f"{name}{labels} {text}\n")
    out += lines
    return True


def _write(item: Item, out: list[str]) -> None:
    if isinstance(item, Family):
        if _family_text(item, out):
            return
        item = item.metric()
    if not _simple(item, out):
        out.append(generate_latest(_One(item)).decode("utf-8"))


def text_exposition(registry: Collector) -> bytes:
    """generate_latest(registry), faster for plain gauges and counters, and written from the
    rows of a TextRegistry's FamilyCollectors."""
    out: list[str] = []
    if isinstance(registry, TextRegistry):
        for collector in registry.collectors():
            items = (collector.collect_families() if isinstance(collector, FamilyCollector)
                     else collector.collect())
            for item in items:
                _write(item, out)
    else:
        for metric in registry.collect():
            _write(metric, out)
    return "".join(out).encode("utf-8")


__all__ = ["Family", "FamilyCollector", "Item", "TextRegistry", "as_metrics", "go_float", "text_exposition"]
