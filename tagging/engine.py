"""The re-tag engine: rules → the tags each customer should have → the difference applied locally.

Set-based: every rule is one INSERT … SELECT into a temporary ``desired`` table; exclusivity is
one DELETE; the difference with ``customer_tag`` is one upsert and one UPDATE. The same code runs
for all customers (nightly, ``scrm tags retag``) and for a few (after an event). Only rows with
``source = 'rule'`` are touched: tags guides set in WeCom are never removed by rules. WeCom is
not called here; changed rows are left ``in_wecom = false`` / ``removed = true`` for the sync.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot.progress import Progress
from bot.sqldialect import Dialect, SqlParams
from customers.models import Tag
from tagging.config import RuleSet
from tagging.kinds.base import QueryContext

__all__ = ["retag", "RetagResult", "MissingTags"]

log = structlog.get_logger(__name__)


class MissingTags(RuntimeError):
    """Rule tags that do not exist locally yet: run tagging.delivery.ensure_rule_tags first."""


@dataclass(frozen=True, slots=True)
class RetagResult:
    desired: int
    pending_relations: int
    seconds: float


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def _tag_ids(rules: RuleSet) -> dict[tuple[str, str], int]:
    rows = await Tag.filter(deleted=False, group__deleted=False).values_list("group__name", "name", "id")
    known = {(group, name): tag_id for group, name, tag_id in rows}
    missing = [(g, n) for g, names in rules.wanted_tags().items() for n in names if (g, n) not in known]
    if missing:
        raise MissingTags(
            f"tags not created yet: {missing[:5]}…" if len(missing) > 5 else f"tags not created: {missing}"
        )
    return known


async def retag(
    rules: RuleSet,
    *,
    now: datetime,
    customer_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> RetagResult:
    """Re-evaluate every rule for ``customer_ids`` (None: everyone) and apply the difference."""
    started = time.perf_counter()
    tag_ids = await _tag_ids(rules)
    progress = progress or Progress("re-tag", enabled=False)
    progress.set_total(len(rules.rules) + 3)
    async with in_transaction() as conn:
        dialect = Dialect.of(conn)
        ctx = QueryContext(dialect, now, customer_ids, {})
        await _create_desired(conn, dialect)
        for priority, rule in enumerate(rules.rules):
            await rule.kind.prepare(ctx)
            params = SqlParams(dialect)
            select_sql = rule.kind.select(ctx, params)
            group = rules.groups[rule.group]
            cases = " ".join(f"WHEN {_literal(name)} THEN {tag_ids[(rule.group, name)]}" for name in rule.kind.tags)
            await conn.execute_query(
                f"INSERT INTO scrm_desired (customer_id, tag_id, group_key, exclusive, prio, rule_id, evidence) "
                f"SELECT q.customer_id, CASE q.tag {cases} END, {list(rules.groups).index(rule.group)}, "
                f"{1 if group.exclusive else 0}, {priority}, {_literal(rule.id)}, q.evidence "
                f"FROM ({select_sql}) q WHERE q.tag IS NOT NULL AND q.customer_id IS NOT NULL",
                params.values,
            )
            progress.advance()
        desired = await _apply(conn, dialect, ctx, now)
        progress.advance(3)
        pending = await _count_pending(conn, ctx)
    progress.finish()
    result = RetagResult(desired, pending, time.perf_counter() - started)
    log.info(
        "retag_done",
        customers="all" if customer_ids is None else len(customer_ids),
        desired=desired,
        pending_relations=pending,
        seconds=round(result.seconds, 2),
    )
    return result


async def _create_desired(conn: BaseDBAsyncClient, dialect: Dialect) -> None:
    suffix = " ON COMMIT DROP" if dialect.name == "postgres" else ""
    if dialect.name == "sqlite":
        await conn.execute_script("DROP TABLE IF EXISTS temp.scrm_desired")
    await conn.execute_script(
        "CREATE TEMP TABLE scrm_desired (customer_id BIGINT NOT NULL, tag_id INT NOT NULL, "
        "group_key INT NOT NULL, exclusive INT NOT NULL, "
        f"prio INT NOT NULL, rule_id VARCHAR(64) NOT NULL, evidence TEXT){suffix}"
    )


async def _apply(conn: BaseDBAsyncClient, dialect: Dialect, ctx: QueryContext, now: datetime) -> int:
    await conn.execute_script("CREATE INDEX scrm_desired_customer ON scrm_desired (customer_id, group_key)")
    # Exclusive groups: one tag per customer — the earliest rule wins, then the lowest tag id.
    await conn.execute_script(
        "DELETE FROM scrm_desired WHERE exclusive = 1 AND EXISTS (SELECT 1 FROM scrm_desired d2 "
        "WHERE d2.customer_id = scrm_desired.customer_id AND d2.group_key = scrm_desired.group_key "
        "AND (d2.prio < scrm_desired.prio OR (d2.prio = scrm_desired.prio AND d2.tag_id < scrm_desired.tag_id)))"
    )
    rows = await conn.execute_query_dict("SELECT COUNT(*) AS n FROM scrm_desired")
    desired = int(rows[0]["n"])
    evidence = "CAST(d.evidence AS JSONB)" if dialect.name == "postgres" else "d.evidence"
    when = dialect.param(1)
    # New rule tags on every relation of the customer; a rule tag that was on its way out comes
    # back. Rows a guide set (source wecom/guide) are left exactly as they are.
    await conn.execute_query(
        "INSERT INTO customer_tag (customer_id, guide_id, tag_id, source, rule_id, evidence, in_wecom, removed, "
        f"created_at, updated_at) SELECT d.customer_id, r.guide_id, d.tag_id, 'rule', d.rule_id, {evidence}, "
        f"FALSE, FALSE, {when}, {when} FROM scrm_desired d JOIN relationship r ON r.customer_id = d.customer_id "
        "WHERE 1 = 1 ON CONFLICT (customer_id, guide_id, tag_id) DO UPDATE SET removed = FALSE, "
        "rule_id = excluded.rule_id, evidence = excluded.evidence, updated_at = excluded.updated_at "
        "WHERE customer_tag.source = 'rule' AND customer_tag.removed",
        [dialect.time(now)],
    )
    await conn.execute_query(
        f"UPDATE customer_tag SET removed = TRUE, updated_at = {when} WHERE source = 'rule' AND removed = FALSE"
        f"{ctx.scope('customer_id')} AND NOT EXISTS (SELECT 1 FROM scrm_desired d "
        "WHERE d.customer_id = customer_tag.customer_id AND d.tag_id = customer_tag.tag_id)",
        [dialect.time(now)],
    )
    # A tag that should go and that WeCom never had: nothing to undo there.
    await conn.execute_script(
        f"DELETE FROM customer_tag WHERE removed = TRUE AND in_wecom = FALSE{ctx.scope('customer_id')}"
    )
    await conn.execute_script(
        "DROP TABLE IF EXISTS scrm_desired" if dialect.name == "postgres" else "DROP TABLE IF EXISTS temp.scrm_desired"
    )
    return desired


PENDING_CONDITION = "((ct.in_wecom = FALSE AND ct.removed = FALSE) OR (ct.in_wecom = TRUE AND ct.removed = TRUE))"


async def _count_pending(conn: BaseDBAsyncClient, ctx: QueryContext) -> int:
    """Relations (guide, customer) that need a mark_tag call: one call each."""
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n FROM (SELECT DISTINCT ct.customer_id, ct.guide_id FROM customer_tag ct "
        "JOIN relationship r ON r.customer_id = ct.customer_id AND r.guide_id = ct.guide_id "
        "AND r.deleted_by_customer_at IS NULL AND r.deleted_by_guide_at IS NULL "
        f"WHERE {PENDING_CONDITION}{ctx.scope('ct.customer_id')}) p"
    )
    return int(rows[0]["n"])
