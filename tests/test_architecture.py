"""The dependency rule of STYLE.md, enforced by walking imports with ast.

cli -> outputs/tune/store -> pipeline -> advice -> rules -> analysis -> model <- parsers <- sources
(collect and collect_log read a root or a log for pipeline: sources + parsers -> model)

tune/ is the write edge, the mirror of sources/: only cli imports it. Its records (a plan:
advice/tuning.py; a transaction and a drift report: model/tuning.py) are plain data that
outputs/tune.py renders without importing the edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).parent.parent / "src" / "memstall"

# layer -> project packages it must never import. A layer is a package (sources/) or a
# top-level module (collect_log.py, manifest.py).
_ALL = {"sources", "parsers", "analysis", "rules", "advice", "outputs", "cli", "collect", "collect_log",
        "tune", "pipeline", "store", "lab"}
_READERS = {"collect", "collect_log"}  # read a root or a log: sources + parsers -> model
_UPPER = {"cli", "outputs", "tune", "store", "pipeline", "lab"}
FORBIDDEN = {
    "model": _ALL,
    "parsers": _ALL - {"parsers"},
    "sources": (_ALL - {"sources"}) | {"model"},
    "analysis": _ALL - {"analysis"},
    "rules": _ALL - {"rules", "analysis"},
    "advice": _UPPER | _READERS | {"sources", "parsers"},
    "collect": _UPPER | {"advice", "rules", "collect_log"},  # analysis: pure sums of per-node files
    "collect_log": _UPPER | {"advice", "rules", "analysis", "collect"},
    "pipeline": {"cli", "outputs", "tune", "store", "lab"},
    "outputs": {"cli", "sources", "parsers"} | _READERS,
    "tune": {"cli", "outputs", "collect", "collect_log", "pipeline", "store", "lab"},
    "lab": {"cli", "outputs", "tune", "store"},  # boots guests; reads their snapshots via pipeline
    "store": {"cli", "outputs", "tune", "sources", "parsers", "collect", "collect_log", "pipeline", "advice",
              "lab"},
    # Bottom modules every layer may use: they import nothing above them.
    "units": _ALL,
    "errors": _ALL,
    "manifest": _ALL,
    "rootfd": _ALL,
    "durable": _ALL,
    "duration": _ALL,
    "specs": _ALL,  # the names of the kernel files, relative to a root: data, no I/O
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {m.split(".")[1] for m in found if m.startswith("memstall.") and m.count(".") >= 1}


def _layer_files(layer: str) -> list[Path]:
    module = PKG / f"{layer}.py"
    return [module] if module.exists() else sorted((PKG / layer).rglob("*.py"))


CASES = [(layer, p) for layer in FORBIDDEN for p in _layer_files(layer)]


def test_every_layer_exists_and_every_module_has_a_layer() -> None:
    """A new top-level package or module gets a row: the table cannot silently miss it."""
    assert all(_layer_files(layer) for layer in FORBIDDEN)
    tops = {p.relative_to(PKG).parts[0].removesuffix(".py") for p in PKG.glob("*")
            if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())}
    assert tops - set(FORBIDDEN) - {"__init__", "__main__", "cli"} == set()


@pytest.mark.parametrize(("layer", "path"), CASES, ids=[f"{layer}/{p.name}" for layer, p in CASES])
def test_layer_imports_only_downwards(layer: str, path: Path) -> None:
    bad = _imports(path) & FORBIDDEN[layer]
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}, against the dependency rule"


def test_only_cli_imports_tune() -> None:
    top = {"cli", "tune"}
    bad = [p.relative_to(PKG).as_posix() for p in sorted(PKG.rglob("*.py"))
           if p.relative_to(PKG).parts[0] not in top and "tune" in _imports(p)]
    assert not bad, f"{bad} import memstall.tune: only cli may (tune is the write edge)"


def test_core_uses_only_the_standard_library() -> None:
    import sys

    allowed = set(sys.stdlib_module_names) | {"memstall"}
    optional = {"zstandard", "prometheus_client", "rich"}  # imported lazily by optional extras only
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in allowed or top in optional, f"{path.name} imports {name}"


def test_only_cli_and_outputs_import_store() -> None:
    """store/ is the recorder's database: written by `memstall record`, read by the report."""
    bad = [p.relative_to(PKG).as_posix() for p in sorted(PKG.rglob("*.py"))
           if p.relative_to(PKG).parts[0] not in {"cli", "outputs", "store"} and "store" in _imports(p)]
    assert not bad, f"{bad} import memstall.store: only cli and outputs may"
