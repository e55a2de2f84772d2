"""The map holds: no import cycles among the project's modules, the engine imports no business, and a
new feature is its package, its handlers module and one name in bot/features.py.

Read from the source (an AST import graph), so a cycle fails here with its path instead of as an
``ImportError`` in whichever process happens to import the modules in the wrong order.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

from setuptools import find_packages

from bot.features import FEATURES
from tests.conftest import no_backend

pytestmark = no_backend

ROOT = Path(__file__).resolve().parent.parent
# The business: every feature (bot/features.py), the handlers and the simulator. (bot.cli is engine:
# features add their sub-commands through their ``cli`` slot; `scrm simulator` and `scrm demo` import
# the simulator package inside those two commands only, which is not an edge here.)
DOMAIN = (*FEATURES, "handlers", "simulator")
PACKAGES = ("bot", "config", *DOMAIN)
# The migrations are a snapshot of the domain's schema (enum values).
ALLOWED_PREFIXES = ("bot.migrations.",)


def modules(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
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


def graph(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    known = modules(root, packages)
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


def engine_imports_of_business(edges: dict[str, set[str]], domain: Iterable[str] = DOMAIN) -> list[str]:
    """``bot.x → feature.y`` for every module of bot/ (the features' list and the config included)
    that imports a feature, the handlers or the simulator."""
    business = set(domain)
    return sorted(f"{name} → {target}" for name, targets in edges.items()
                  if name.split(".")[0] == "bot" and not name.startswith(ALLOWED_PREFIXES)
                  for target in targets if target.split(".")[0] in business)


def test_no_module_of_the_engine_imports_a_feature() -> None:
    business = engine_imports_of_business(graph())
    assert not business, "the engine names business:\n" + "\n".join(business)


def test_the_check_sees_an_engine_module_that_imports_a_feature(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "sneaky.py").write_text("from leads.config import LEADS\n")
    (tmp_path / "leads").mkdir()
    (tmp_path / "leads" / "config.py").write_text("LEADS = 1\n")
    edges = graph(tmp_path, ("bot", "leads"))
    assert engine_imports_of_business(edges, ("leads",)) == ["bot.sneaky → leads.config"]


# --- adding a feature touches its package, its handlers module and one line -------------------------

THROWAWAY = {
    "zz/__init__.py": '"""A throw-away feature: what a new one is."""\n\nfrom bot.feature import Feature\n\n'
                      'FEATURE = Feature("zz")\n',
    "zz/config.py": (
        "from pathlib import Path\nfrom typing import Any\nfrom collections.abc import Mapping\n"
        "from bot.appconfig import ConfigKey\n\n"
        "class ZzConf:\n    greeting = 'zz config loaded'\n\n"
        "def load(config_dir: Path, loaded: Mapping[str, Any]) -> ZzConf:\n    return ZzConf()\n\n"
        "ZZ = ConfigKey('zz', ZzConf)\n"
    ),
    "zz/models.py": "from tortoise import fields\nfrom tortoise.models import Model\n\n"
                    "class ZzNote(Model):\n    id = fields.IntField(primary_key=True)\n",
    "zz/demo.py": "async def chapter(n: object) -> None:\n    return None\n",
    "zz/cli.py": "def add_command(sub):\n    parser = sub.add_parser('zz', help='zz')\n"
                 "    parser.set_defaults(run=lambda args: print('zz ran') or 0)\n",
    "handlers/zz.py": (
        "from bot.commands import Call\nfrom bot.dispatch import Router\n\nrouter = Router('zz')\n\n"
        "@router.event('zz_event')\nasync def on_zz(event, deps) -> None:\n    return None\n\n"
        "@router.command('zz测试', help='zz')\nasync def zz_command(call: Call) -> str:\n    return 'zz'\n"
    ),
}

PROBE = """
import json, sys
from pathlib import Path
import bot
from bot.app import create_app
from bot.appconfig import load_app_config
from bot.cli import main
from bot.commands import table_of
from bot.db import tortoise_config
from bot.dispatch import feature_routers
from bot.feature import attributes, features
from zz.config import ZZ
zz = features()[-1]
command, _ = table_of(tuple(feature_routers())).parse("zz测试")
print(json.dumps({
    "bot": bot.__file__,
    "feature": [zz.name, zz.handlers, zz.models, zz.demo, zz.cli, [list(c) for c in zz.config]],
    "routers": [router.name for router in feature_routers()],
    "models": tortoise_config("sqlite://:memory:")["apps"]["scrm"]["models"],
    "config": load_app_config(Path("config"))[ZZ].greeting,
    "command": command.name if command else None,
    "demo": [f"{c.__module__}:{c.__name__}" for c in attributes("demo")][-1],
}))
sys.stdout.flush()
main(["zz"])
"""


def test_a_new_feature_is_its_package_its_handlers_module_and_one_name(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for name, text in THROWAWAY.items():
        (copy / name).parent.mkdir(exist_ok=True)
        (copy / name).write_text(text, "utf-8")
    listing = copy / "bot" / "features.py"
    before = listing.read_text("utf-8").splitlines()
    listing.write_text(listing.read_text("utf-8").replace('"groups")', '"groups", "zz")'), "utf-8")
    after = listing.read_text("utf-8").splitlines()
    assert len(before) == len(after) and sum(a != b for a, b in zip(before, after, strict=True)) == 1

    done = subprocess.run([sys.executable, "-c", PROBE], cwd=copy, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen, ran = done.stdout.strip().split("\n")
    found = json.loads(seen)
    assert found["bot"].startswith(str(copy))
    # Every slot defaulted to its conventional file.
    assert found["feature"] == ["zz", ["handlers.zz"], ["zz.models"], ["zz.demo:chapter"], ["zz.cli:add_command"],
                                [["zz", "zz.config:load"]]]
    assert "zz" in found["routers"]
    assert found["models"][-1] == "zz.models"  # the ORM knows its models
    assert found["config"] == "zz config loaded"  # its config loads with the others
    assert found["command"] == "zz测试"  # its chat command answers
    assert found["demo"] == "zz.demo:chapter"
    assert ran == "zz ran"  # `scrm zz`
    # Packaged and checked as every other package: pyproject.toml needs no line.
    find = tomllib.loads((copy / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"]["find"]
    assert "zz" in find_packages(str(copy), exclude=find["exclude"])
    # And the import rules hold for it too.
    packages = ("bot", "config", *FEATURES, "zz", "handlers", "simulator")
    edges = graph(copy, packages)
    assert not cycles(edges)
    assert not engine_imports_of_business(edges, (*FEATURES, "zz", "handlers", "simulator"))
