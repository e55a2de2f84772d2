"""Migrations the previous release survives: expand now, contract later (bot/migrationcheck.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.migrationcheck import MIGRATIONS, unsafe_operations

_HEAD = "from tortoise.migrations import operations as ops\nfrom tortoise import fields\n\noperations = [\n"


def test_every_migration_in_the_repository_is_safe_for_the_running_release_or_says_why() -> None:
    problems = [line for path in sorted(MIGRATIONS.glob("[0-9]*.py")) for line in unsafe_operations(path)]
    assert problems == []


@pytest.mark.parametrize(
    ("operation", "named"),
    [
        ("ops.RemoveField(model_name='Order', name='legacy_id')", "RemoveField Order.legacy_id"),
        ("ops.RenameField(model_name='Order', name='sender', new_name='source')", "RenameField Order.sender"),
        ("ops.DeleteModel(name='Signal')", "DeleteModel"),
        ("ops.AlterField(model_name='Order', name='amount', field=fields.IntField())", "AlterField Order.amount"),
        ("ops.AddField(model_name='Order', name='store', field=fields.CharField(max_length=8))",
         "AddField Order.store: a NOT NULL column without a default"),
    ],
)
def test_a_contracting_step_is_refused_naming_it(tmp_path: Path, operation: str, named: str) -> None:
    migration = tmp_path / "0099_step.py"
    migration.write_text(_HEAD + f"    {operation},\n]\n")
    [problem] = unsafe_operations(migration)
    assert named in problem and problem.startswith("0099_step.py:")


def test_an_expanding_step_passes_and_a_marked_contract_step_passes(tmp_path: Path) -> None:
    expand = tmp_path / "0099_expand.py"
    expand.write_text(_HEAD + "    ops.AddField(model_name='Order', name='store', field=fields.CharField(max_length=8, "
                      "null=True)),\n    ops.AddField(model_name='Order', name='kind', field=fields.CharField("
                      "max_length=8, default='')),\n]\n")
    assert unsafe_operations(expand) == []
    contract = tmp_path / "0100_contract.py"
    contract.write_text("# expand-contract: Order.legacy_id unused since the previous release\n" + _HEAD
                        + "    ops.RemoveField(model_name='Order', name='legacy_id'),\n]\n")
    assert unsafe_operations(contract) == []
