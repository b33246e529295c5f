"""outputs/exposition.py: Family rows written as text are generate_latest's bytes (issue 15)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Callable

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from memstall.outputs.exposition import Family, Item, TextRegistry, as_metrics, go_float, text_exposition


@given(st.one_of(st.floats(), st.integers(min_value=-(2**64), max_value=2**64).map(float),
                 st.sampled_from([0.0, -0.0, 1e6, 999999.0, 1234567.0, 1e-7, 1e16, 1e21, 123456.5])))
def test_go_float_is_the_librarys(value: float) -> None:
    assert go_float(value) == _library_float(value)


_library_float: Callable[[float], str] = floatToGoString


class Rows(Collector):
    """A FamilyCollector of fixed items."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items

    def collect_families(self) -> Iterable[Item]:
        return list(self.items)

    def collect(self) -> Iterable[Metric]:
        return as_metrics(self.collect_families())


def _registry(items: list[Item]) -> TextRegistry:
    registry = TextRegistry()
    registry.register(Rows(items))
    return registry


def test_rows_are_written_as_the_library_writes_them() -> None:
    plain = Family("a_gauge", "help \\ with\nnewline", "gauge", ("node", "zone", "order"))
    plain.add(("0", "Normal", "10"), 3.0)
    plain.add(("1", "DMA32", "0"), 1234567.0)
    counter = Family("a_counter", "a count", "counter")
    counter.add((), float("inf"))
    empty = Family("no_rows", "nothing yet", "gauge", ("x",))
    quoted = Family("quoted", "needs escaping", "gauge", ("subject",))
    quoted.add(('say "hi"',), 1.0)
    quoted.add(("back\\slash\nnewline",), float("nan"))
    total = Family("ends_total", "a counter named with _total", "counter")
    total.add((), 2.0)
    hist = HistogramMetricFamily("a_hist", "a histogram", buckets=[("1", 2.0), ("+Inf", 3.0)], sum_value=4.0)
    items: list[Item] = [plain, counter, empty, quoted, total, hist]
    registry = _registry(items)
    for _ in range(2):  # the second time from the caches
        assert text_exposition(registry) == generate_latest(registry)


@given(st.lists(st.tuples(st.sampled_from(["node", "zone", "order", "rule", "a"]),
                          st.text(max_size=6)), max_size=3),
       st.floats(allow_nan=False))
def test_any_label_set_is_the_librarys(pairs: list[tuple[str, str]], value: float) -> None:
    names = tuple(name for name, _ in pairs)
    family = Family("some_family", "generated", "gauge", names)
    if len(set(names)) == len(names):  # the library refuses repeated label names
        family.add(tuple(v for _, v in pairs), value)
        registry = _registry([family])
        assert text_exposition(registry) == generate_latest(registry)


def test_registry_order_and_unregister() -> None:
    first, second = Family("first", "1", "gauge"), Family("second", "2", "gauge")
    a, b = Rows([first]), Rows([second])
    registry = TextRegistry()
    registry.register(a)
    registry.register(b)
    assert text_exposition(registry).index(b"first") < text_exposition(registry).index(b"second")
    registry.unregister(a)
    assert b"first" not in text_exposition(registry)
    assert text_exposition(registry) == generate_latest(registry)
