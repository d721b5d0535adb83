"""The shape of the code: no import cycles, small functions, a thin command line, the public API."""

from __future__ import annotations

import ast
import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "walkcircle"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """walkcircle modules a module imports (at any depth, lazily or not; not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("walkcircle"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("walkcircle"))
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> the walkcircle modules it imports (a package's own ancestors are set up first: not edges)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    return {
        name: {
            m
            for m in _imports(path)
            if m in modules and m != name and not name.startswith(m + ".") and m != "walkcircle"
        }
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_inside_walkcircle():
    graph = _graph()
    assert len(graph) > 20
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_core_does_not_import_the_application_layer():
    graph = _graph()
    app = {"walkcircle.cli", "walkcircle.cli.commands", "walkcircle.cli._common", "walkcircle.study",
           "walkcircle.pipeline", "walkcircle.batch", "walkcircle.config", "walkcircle.settings"}  # fmt: skip
    for core in (
        "network",
        "paths",
        "routing",
        "access",
        "isochrones",
        "scoring",
        "siting",
        "geodesy",
        "coords",
    ):
        assert not graph[f"walkcircle.{core}"] & app, core


def test_command_line_is_thin_and_functions_are_small():
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in (SRC / "cli").glob("*.py"))
    assert lines <= 700, lines
    res = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "C901", str(SRC)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout


def test_public_api():
    import walkcircle

    for name in walkcircle.__all__:
        assert hasattr(walkcircle, name), name
    assert {
        "Study",
        "Settings",
        "compute_access",
        "isochrones",
        "suggest_sites",
        "load_profile",
        "read_network",
    } <= set(walkcircle.__all__)


@pytest.mark.parametrize(
    "module",
    [
        "walkcircle",
        "walkcircle.settings",
        "walkcircle.outputs.console",
        "walkcircle.nxgraph",
        "walkcircle._background",
        "walkcircle.outputs._folium",
    ],
)
def test_doctests(module):
    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0, result
