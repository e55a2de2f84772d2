"""The map holds: no import cycles among the project's modules, and the engine imports no business.

Read from the source (an AST import graph), so a cycle fails here with its path instead of as an
``ImportError`` in whichever process happens to import the modules in the wrong order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "customers", "boards", "operators", "tagging", "leads", "sop", "channels", "orgsync",
            "sidebar", "predict", "acquisition", "campaigns", "groups", "simulator", "config")
DOMAIN = ("customers", "boards", "operators", "tagging", "leads", "sop", "channels", "orgsync", "sidebar", "predict",
          "acquisition", "campaigns", "groups",
          "handlers", "simulator")
# The root that composes the features, and the places that must name them, are not the engine.
# (bot.cli is engine: features add their sub-commands through the table; `scrm simulator` and
# `scrm demo` import the simulator package inside those two commands only, which is not an edge here.)
NOT_ENGINE = {"bot.features", "bot.appconfig"}
# The migrations are a snapshot of the domain's schema (enum values).
ALLOWED: set[str] = set()
ALLOWED_PREFIXES = ("bot.migrations.",)


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run when the module is imported: not function bodies, not ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _module_level(node.orelse)
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                yield from _module_level([n for n in inner if isinstance(n, ast.stmt | ast.excepthandler)])  # type: ignore[misc]


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports when it is imported (a package's ``__init__`` included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()  # what the statements name
    for node in _module_level(ast.parse(path.read_text("utf-8")).body):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known.keys()
            targets |= submodules
            if len(submodules) < len(node.names):  # a name defined in ``base`` itself
                targets.add(base)
    ancestors = {".".join(name.split(".")[:depth]) for depth in range(1, name.count(".") + 1)}
    edges = {target for target in targets if target in known and target != name}
    for target in targets:
        parts = target.split(".")
        # Importing a.b.c runs a/__init__ and a/b/__init__ first, unless they are this module's own
        # packages (being imported already: Python hands back the partly run package, no cycle).
        edges.update(prefix for depth in range(1, len(parts))
                     if (prefix := ".".join(parts[:depth])) in known and prefix not in ancestors)
    return edges


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One path per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_path_through(sorted(component), edges))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _path_through(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A cycle inside the component, from its first module back to it: what to read to break it."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(edges[node] & members):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return component


def test_the_graph_sees_imports_and_skips_type_checking_ones() -> None:
    edges = graph()
    assert "bot.queue" in edges["bot.worker"]
    assert "tagging" in edges["handlers.tagging"]  # a package's __init__ runs first
    assert "bot.deps" not in edges["bot.cli"]  # imported under TYPE_CHECKING only


def test_no_import_cycles() -> None:
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" → ".join(cycle) for cycle in found)


def test_the_engine_imports_no_feature() -> None:
    engine = {name: targets for name, targets in graph().items()
              if name.split(".")[0] == "bot" and name not in NOT_ENGINE | ALLOWED
              and not name.startswith(ALLOWED_PREFIXES)}
    business = sorted(f"{name} → {target}" for name, targets in engine.items() for target in targets
                      if target.split(".")[0] in DOMAIN)
    assert not business, "the engine names business:\n" + "\n".join(business)
