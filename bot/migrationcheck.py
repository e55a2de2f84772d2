"""Migrations the running release survives: expand now, contract in a later release.

During a rolling deploy the previous release's web and worker processes run against the new schema
for a while. A migration is safe for them when it only expands: a new table, a new index, a new
column that is nullable or has a default. It is unsafe when it contracts or changes what the old
code reads and writes: dropping or renaming a column or table, altering a column's type, a new
column the old code would have to fill. Such a step goes in a later release than the code that
stopped using the old shape, and its file says so with a marker line::

    # expand-contract: <why it is safe now, e.g. "Order.legacy_id unused since 0.4">

``make migrations`` refuses a new migration with an unsafe operation and no marker
(bot/makemigrations.py), and tests/test_migrations.py checks every migration in bot/migrations.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["MARKER", "MIGRATIONS", "unsafe_operations"]

MARKER = "# expand-contract:"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Operations the previous release cannot live with, whatever their arguments.
_CONTRACTING = {
    "RemoveField": "drops a column the previous release may still read",
    "RenameField": "renames a column the previous release still reads by its old name",
    "DeleteModel": "drops a table the previous release may still use",
    "RenameModel": "renames a table the previous release still uses by its old name",
    "AlterField": "changes a column the previous release reads and writes",
    "RemoveIndex": "drops an index the previous release's queries may rely on",
}


def _operation(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _fillable(field: ast.expr | None) -> bool:
    """A new column the previous release's INSERTs can leave out: nullable, or with a default."""
    if not isinstance(field, ast.Call):
        return False
    null = _keyword(field, "null")
    if isinstance(null, ast.Constant) and null.value is True:
        return True
    return _keyword(field, "default") is not None or _operation(field) in {"BigIntField", "IntField"} and bool(
        _keyword(field, "generated"))


def unsafe_operations(path: Path) -> list[str]:
    """What in the migration at ``path`` the previous release could not survive; empty when safe or marked."""
    source = path.read_text(encoding="utf-8")
    if any(line.strip().startswith(MARKER) for line in source.splitlines()):
        return []
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = _operation(node)
        model = _keyword(node, "model_name")
        field_name = _keyword(node, "name")
        where = ".".join(str(n.value) for n in (model, field_name) if isinstance(n, ast.Constant))
        if name in _CONTRACTING:
            found.append(f"{path.name}:{node.lineno}: {name} {where}: {_CONTRACTING[name]}")
        elif name == "AddField" and not _fillable(_keyword(node, "field")):
            found.append(f"{path.name}:{node.lineno}: AddField {where}: a NOT NULL column without a default, "
                         "which the previous release's inserts do not fill")
    return found
