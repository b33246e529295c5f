"""The rule -> advice contract: every rule declares its evidence, emits exactly that, and
advice reads only what is declared.

A rule module exports KEY and one frozen `RuleEvidence` dataclass per evidence shape,
listed in its `Rule`. These tests check
- the declarations (field names, types a renderer can print, docs naming every field);
- the emissions: every rule run on builder inputs chosen to fire it, and `diagnose` on every
  fixture, must carry one of its declared classes with exactly the declared keys and types;
- the readers: src/memstall/advice/*.py walked with ast, where a rule key must be
  `<rule module>.KEY`, evidence is read only through `ctx.found(<rule>.<Evidence class>)`,
  and every attribute read on such evidence must be a declared field.
The checkers are tested on deliberately broken inputs, so they can fail.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

from builders import (
    GIB_PAGES,
    alloc_event,
    buddy,
    formula_zones,
    inputs,
    meminfo,
    psi,
    rates,
    state,
    sysctl,
    zone,
    zoneinfo,
)
from conftest import FIXTURES, run_cli
from memstall.advice import recommend as recommend_module
from memstall.model.kernel import KernelVersion
from memstall.model.slab import SlabCache, SlabInfo
from memstall.model.thp import ThpSettings
from memstall.model.trace import KindLatency, TracedStalls
from memstall.model.vmstat import VmStat
from memstall.rules import REGISTRY, Finding, Inputs, Rule, RuleEvidence, run_rules

ADVICE = Path(recommend_module.__file__).parent
BY_KEY = {r.key: r for r in REGISTRY}
DECLARED = {cls for r in REGISTRY for cls in r.evidence}
KERNEL_WORDS = frozenset({"MADV_HUGEPAGE"})
"""UPPER_SNAKE words advice text may contain that are kernel names, not rule keys."""


# --- declarations -----------------------------------------------------------------------------

def _field_names(cls: type[RuleEvidence]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _accepts(hint: object, value: object) -> bool:
    """Does `value` fit the annotation `hint` exactly (an int is not a float, a bool not an int)?"""
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return any(_accepts(h, value) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return hint in (float, str, bool) and type(value) is hint


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.key)
def test_each_rule_declares_frozen_evidence_in_its_own_module(rule: Rule) -> None:
    module = importlib.import_module(f"memstall.rules.{rule.key.lower()}")
    assert rule.key == module.KEY
    assert rule.evidence, f"{rule.key} declares no evidence class"
    for cls in rule.evidence:
        assert issubclass(cls, RuleEvidence) and dataclasses.is_dataclass(cls)
        assert cls.__module__ == module.__name__, f"{cls.__qualname__} is not declared in {module.__name__}"
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, f"{cls.__qualname__} is not frozen"
        hints = typing.get_type_hints(cls)
        for name in _field_names(cls):
            assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name), name
            assert not hasattr(Mapping, name), f"{cls.__qualname__}.{name} shadows a Mapping method"
            leaves = typing.get_args(hints[name]) or (hints[name],)
            assert all(h in (int, float, str, bool, type(None)) or isinstance(h, str) for h in leaves), (
                f"{cls.__qualname__}.{name}: {hints[name]} is not printable evidence")


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.key)
def test_the_docstring_evidence_section_names_exactly_the_declared_fields(rule: Rule) -> None:
    section = rule.doc.split("Evidence:")[1].split("Remediation:")[0]
    declared = {n for cls in rule.evidence for n in _field_names(cls)}
    words = set(re.findall(r"\b[a-z][a-z0-9_]*\b", section))
    assert declared <= words, f"docs/rules.md does not name {sorted(declared - words)}"
    stale = {w for w in words if "_" in w} - declared
    assert not stale, f"docs/rules.md names evidence {sorted(stale)} the rule does not emit"


# --- emissions --------------------------------------------------------------------------------

def evidence_problems(rule: Rule, finding: Finding) -> list[str]:
    """What is wrong with a finding's evidence against its rule's declaration (empty: nothing)."""
    cls = type(finding.evidence)
    if finding.key != rule.key:
        return [f"finding {finding.key} checked against rule {rule.key}"]
    if cls not in rule.evidence:
        return [f"{rule.key} emitted {cls.__qualname__}, not one of its declared "
                f"{[c.__qualname__ for c in rule.evidence]}"]
    return _mapping_problems(rule.key, cls, dict(finding.evidence))


def _mapping_problems(key: str, cls: type[RuleEvidence], evidence: Mapping[str, object]) -> list[str]:
    names = _field_names(cls)
    problems = []
    if sorted(evidence) != sorted(names):
        problems.append(f"{key}: emitted {sorted(set(evidence) - set(names))} undeclared, "
                        f"omitted {sorted(set(names) - set(evidence))} declared")
    hints = typing.get_type_hints(cls)
    problems += [f"{key}.{n}={evidence[n]!r} is not {hints[n]}" for n in names
                 if n in evidence and not _accepts(hints[n], evidence[n])]
    return problems


def _firing_inputs() -> Iterator[tuple[str, Inputs]]:
    """Builder inputs that, together, fire every rule in every declared evidence shape."""
    kernel = KernelVersion(6, 1)
    sizes = [(0, "DMA32", GIB_PAGES), (0, "Normal", 15 * GIB_PAGES)]
    total_kib = 16 * 1024 * 1024
    stressed = state(
        zoneinfo=formula_zones(sizes, 1024, 10, kernel, free=0), kernel_release=str(kernel),
        meminfo=meminfo(MemTotal=total_kib, MemFree=0, Active_file=total_kib // 2,
                        Inactive_file=total_kib // 4, Dirty=total_kib // 8,
                        SReclaimable=total_kib // 4),
        sysctl_vm=sysctl(min_free_kbytes=128), buddyinfo=buddy((0, "Normal", [5000, 10] + [0] * 9)),
        thp=ThpSettings("always", "always", 1), psi_memory=psi(20.0, 10.0))
    r = rates(pgalloc_normal=1e6, allocstall_normal=5.0, pgscan_direct=100.0, pgscan_kswapd=10.0,
              kswapd_low_wmark_hit_quickly=3.0, kswapd_high_wmark_hit_quickly=1.0, compact_stall=4.0,
              compact_fail=4.0, compact_success=1.0, kthreads={"kswapd0": 0.99}, psi_some=0.2,
              psi_full=0.1)
    yield "stressed, two samples", Inputs(stressed, rates=r, kernel=kernel)
    since_boot = VmStat({"compact_stall": 40, "compact_fail": 30, "compact_success": 10})
    yield "stressed, one sample", Inputs(dataclasses.replace(stressed, vmstat=since_boot), kernel=kernel)
    traced = TracedStalls(10.0, "hist", {"direct_reclaim": KindLatency("direct_reclaim", 3, 0.01, 0.002,
                                                                       0.004, 0.004)})
    yield "stressed, two samples, traced", Inputs(stressed, rates=r, kernel=kernel, traced=traced)
    yield "stressed, one sample, traced", Inputs(dataclasses.replace(stressed, vmstat=since_boot),
                                                 kernel=kernel, traced=traced)
    yield "stressed, log events", Inputs(stressed, kernel=kernel, events=(
        alloc_event("stall", 1), alloc_event("failure", 4), alloc_event("oom", None)))
    yield "fragmented, log event", inputs(state(buddyinfo=buddy((0, "Normal", [40000, 1] + [0] * 9))),
                                          events=(alloc_event("failure", 4),))
    huge = meminfo({"HugePages_Total": 4096, "HugePages_Free": 2048}, MemTotal=16 * 1024 * 1024)
    yield "hugetlb", inputs(state(meminfo=huge))
    slab = SlabInfo("2.1", (SlabCache("dentry", 1, 1, 192, 21, 1, 0, 0, 0, 9, 9, 0),))
    yield "stressed, slabinfo", Inputs(dataclasses.replace(stressed, slabinfo=slab), kernel=kernel)
    two_nodes = zoneinfo(zone(0, "Normal", free=1_000, low=12_500), zone(1, "Normal", free=900_000))
    yield "two nodes", inputs(state(zoneinfo=two_nodes))


def _run_builders() -> list[Finding]:
    found: list[Finding] = []
    for _, inp in _firing_inputs():
        found += run_rules(inp).findings
    return found


def test_every_rule_emits_exactly_its_declared_evidence_on_the_builders() -> None:
    findings = _run_builders()
    problems = [p for f in findings for p in evidence_problems(BY_KEY[f.key], f)]
    assert not problems, "\n".join(problems)
    shapes = {type(f.evidence) for f in findings}
    assert shapes == DECLARED, f"never emitted: {sorted(c.__qualname__ for c in DECLARED - shapes)}"


def _fixture_runs() -> Iterator[tuple[str, list[str]]]:
    """(name, argv) of `diagnose --format json` on every snapshot, sosreport and corpus log."""
    json_diagnose = ["--format", "json", "diagnose", "--fail-on", "never"]
    for root in sorted((FIXTURES / "snapshots").iterdir()):
        if root.is_dir():
            yield root.name, ["--root", str(root), *json_diagnose]
    for sos in sorted((FIXTURES / "sosreports").iterdir()):
        for tree in sorted(sos.glob("sosreport-*")):
            yield sos.name, ["--root", str(tree), *json_diagnose]
    for log in sorted((FIXTURES / "kernlog" / "corpus").glob("*.log")):
        yield log.name, [*json_diagnose, "--log", str(log)]


def _json_problems(doc: Mapping[str, object]) -> list[str]:
    problems = []
    findings = doc["findings"]
    assert isinstance(findings, list)
    for f in findings:
        rule = BY_KEY.get(f["key"])
        if rule is None:
            problems.append(f"unknown rule key {f['key']}")
            continue
        shapes = [c for c in rule.evidence if set(_field_names(c)) == set(f["evidence"])]
        if not shapes:
            shapes = list(rule.evidence[:1])
        problems += _mapping_problems(f["key"], shapes[0], f["evidence"])
    return problems


def test_every_fixture_diagnosis_carries_only_declared_evidence() -> None:
    emitted: set[str] = set()
    for name, argv in _fixture_runs():
        r = run_cli(*argv)
        assert r.code == 0, (name, r.err)
        doc = json.loads(r.out)
        problems = _json_problems(doc)
        assert not problems, (name, problems)
        emitted |= {f["key"] for f in doc["findings"]}
    assert len(emitted) >= 5, f"the fixtures fire only {sorted(emitted)}"


def test_the_emission_checks_catch_an_undeclared_and_an_omitted_key() -> None:
    rule = BY_KEY["RECLAIMABLE_SLAB"]
    good = next(f for f in _run_builders() if f.key == rule.key)
    assert evidence_problems(rule, good) == []
    renamed = dict(good.evidence)
    renamed["slab_share"] = renamed.pop("slab_ratio")
    (problem,) = _mapping_problems(rule.key, rule.evidence[0], renamed)
    assert "['slab_share'] undeclared" in problem and "['slab_ratio'] declared" in problem
    as_int = {**good.evidence, "slab_ratio": 1}
    assert _mapping_problems(rule.key, rule.evidence[0], as_int) == [
        "RECLAIMABLE_SLAB.slab_ratio=1 is not <class 'float'>"]
    foreign = dataclasses.replace(good, evidence=next(
        f.evidence for f in _run_builders() if f.key == "PAGE_CACHE_DOMINANT"))
    assert "emitted Evidence, not one of its declared" in evidence_problems(rule, foreign)[0]
    assert _json_problems({"findings": [{"key": "RECLAIMABLE_SLAB_", "evidence": {}}]}) == [
        "unknown rule key RECLAIMABLE_SLAB_"]


# --- readers: advice ---------------------------------------------------------------------------

_KEYISH = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _resolve(node: ast.expr, namespace: Mapping[str, object]) -> object:
    """`module.Name` or `Name` looked up in the advice module's globals (None: not resolvable)."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, namespace)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _is_call_of(node: ast.AST, method: str) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == method)


def _loops(tree: ast.AST) -> Iterator[tuple[ast.AST, ast.expr, Iterable[ast.AST]]]:
    """(iter, target, scope) of every for loop and comprehension."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.AsyncFor)):
            yield node.iter, node.target, node.body
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for gen in node.generators:
                yield gen.iter, gen.target, [node]


def _found_reads(tree: ast.AST, namespace: Mapping[str, object]) -> Iterator[str]:
    """Problems with `for f, ev in ctx.found(<rule>.<Evidence>)` loops and the reads of `ev`."""
    bound: set[int] = set()
    for it, target, scope in _loops(tree):
        if not _is_call_of(it, "found"):
            continue
        assert isinstance(it, ast.Call)
        bound.add(id(it))
        cls = _resolve(it.args[0], namespace) if it.args else None
        where = f"line {it.lineno}"
        if cls not in DECLARED:
            yield f"{where}: ctx.found({ast.unparse(it.args[0]) if it.args else ''}) is no rule's evidence"
            continue
        assert isinstance(cls, type)
        if not (isinstance(target, ast.Tuple) and len(target.elts) == 2
                and isinstance(target.elts[1], ast.Name)):
            yield f"{where}: unpack ctx.found(...) as `f, ev`"
            continue
        ev, fields = target.elts[1].id, set(_field_names(cls))
        for stmt in scope:
            for node in ast.walk(stmt):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id == ev and node.attr not in fields):
                    yield (f"line {node.lineno}: {cls.__qualname__} of {cls.__module__} "
                           f"has no field {node.attr}")
    for node in ast.walk(tree):
        if _is_call_of(node, "found") and id(node) not in bound:
            yield f"line {node.lineno}: ctx.found(...) outside `for f, ev in ...`: its reads are unchecked"


def advice_problems(source: str, namespace: Mapping[str, object]) -> list[str]:
    """Every way the advice module `source` could refer to a rule or its evidence by name."""
    tree = ast.parse(source)
    problems = list(_found_reads(tree, namespace))
    # The one accessor allowed to touch Finding.evidence: its isinstance check types the result.
    accessor = {id(sub) for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                and node.name == "found" for sub in ast.walk(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "evidence" and id(node) not in accessor:
            problems.append(f"line {node.lineno}: {ast.unparse(node)} read directly; use ctx.found")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            # A module's own constants (HEADROOM_TARGET_SECONDS in a docstring) are not rule keys.
            for word in set(_KEYISH.findall(node.value)) - KERNEL_WORDS - set(namespace):
                what = "a rule key: use <rule module>.KEY" if word in BY_KEY else "not a rule key"
                problems.append(f"line {node.lineno}: {word!r} is {what}")
        if isinstance(node, ast.Attribute) and node.attr == "KEY":
            module = _resolve(node.value, namespace)
            rule = getattr(module, "RULE", None)
            if not isinstance(module, types.ModuleType) or rule not in REGISTRY:
                problems.append(f"line {node.lineno}: {ast.unparse(node)} is no registered rule's key")
        if _is_call_of(node, "keyed"):
            assert isinstance(node, ast.Call)
            arg = node.args[0] if node.args else None
            if not (isinstance(arg, ast.Attribute) and arg.attr == "KEY"):
                problems.append(f"line {node.lineno}: ctx.keyed() takes <rule module>.KEY")
    return sorted(set(problems))


ADVICE_MODULES = sorted(ADVICE.glob("*.py"))


@pytest.mark.parametrize("path", ADVICE_MODULES, ids=lambda p: p.name)
def test_advice_refers_to_rules_only_through_their_declarations(path: Path) -> None:
    module = __import__(f"memstall.advice.{path.stem}", fromlist=["_"])
    assert advice_problems(path.read_text(), vars(module)) == []


def test_recommend_reads_evidence_of_the_rules_it_answers() -> None:
    """The walker sees the reads (an empty walk would pass anything)."""
    tree = ast.parse(Path(recommend_module.__file__).read_text())
    loops = [it for it, _, _ in _loops(tree) if _is_call_of(it, "found")]
    assert len(loops) >= 6


BROKEN = {
    "unknown field": ("def f(ctx):\n    for f, ev in ctx.found(min_free_kbytes_low.Evidence):\n"
                      "        x = ev.min_free_kbyte\n",
                      "Evidence of memstall.rules.min_free_kbytes_low has no field min_free_kbyte"),
    "a base class in a comprehension": (
        "def f(ctx):\n    return [ev.verdict for f, ev in ctx.found(high_order_exhaustion.Evidence)]\n",
        "Evidence of memstall.rules.high_order_exhaustion has no field verdict"),
    "string key": ("def f(ctx):\n    return [x for x in ctx.report.findings if x.key == 'DIRECT_RECLAIM']\n",
                   "'DIRECT_RECLAIM' is a rule key"),
    "misspelt key in text": ("RISK = 'watch HIGH_ORDER_EXHAUSTON'\n",
                             "'HIGH_ORDER_EXHAUSTON' is not a rule key"),
    "evidence by subscript": ("def f(ctx, x):\n    return x.evidence['slab_ratio']\n",
                              "x.evidence read directly"),
    "not a rule module": ("K = sizing.KEY\n", "sizing.KEY is no registered rule's key"),
    "not evidence": ("def f(ctx):\n    for f, ev in ctx.found(Finding):\n        pass\n",
                     "ctx.found(Finding) is no rule's evidence"),
    "unchecked found": ("def f(ctx):\n    return ctx.found(reclaimable_slab.Evidence)\n",
                        "outside `for f, ev in ...`"),
    "keyed by string": ("def f(ctx):\n    return ctx.keyed('THP_DEFRAG_STALLS')\n",
                        "ctx.keyed() takes <rule module>.KEY"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_the_advice_walker_catches(case: str) -> None:
    source, expected = BROKEN[case]
    problems = advice_problems(source, vars(recommend_module))
    assert any(expected in p for p in problems), problems


def test_a_renamed_field_is_caught_in_recommend_itself() -> None:
    source = Path(recommend_module.__file__).read_text().replace("ev.slab_ratio", "ev.slab_share")
    assert source != Path(recommend_module.__file__).read_text()
    problems = advice_problems(source, vars(recommend_module))
    assert any("has no field slab_share" in p for p in problems), problems
