"""Keep WeCom's tags equal to ours: create missing tags, push differences, reconcile drift.

- ``ensure_rule_tags``: every tag the rules can give exists in WeCom (add_corp_tag) and locally.
- ``push_pending``: per (guide, customer) relation with a change, one mark_tag with exactly the
  difference, paced by mark_tag's budget in the WeCom client (bot/wecom/budget.py: shared by
  every process and every caller, the sidebar included, which only gets its smaller share). A
  relation that fails stays pending and is retried by the next push; nothing is marked done
  before WeCom said ok.
- ``reconcile``: read what WeCom really has (batch/get_by_user) and mark our rows accordingly, so
  the next push repairs any drift (a rule tag someone removed, a removal that never arrived).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from tortoise import Tortoise

from bot.deps import Deps
from bot.progress import Progress
from bot.sqldialect import Dialect, ids_filter
from bot.wecom.budget import BudgetSpent
from bot.wecom.errors import NotExternalContact, WeComError, WeComPermanentError
from customers.models import CustomerTag, Relationship, Tag, TagGroup
from customers.tags import mirror_relation_tags, sync_corp_tags, tag_ids_of_follow
from tagging.config import RuleSet
from tagging.engine import PENDING_CONDITION

__all__ = ["ensure_rule_tags", "push_pending", "reconcile", "SyncResult"]

log = structlog.get_logger(__name__)
_TAG_NAME_EXISTS = 40071


async def ensure_rule_tags(deps: Deps, rules: RuleSet) -> int:
    """Create in WeCom every rule tag it lacks; return how many were created."""
    await sync_corp_tags(deps)
    created = 0
    for group_name, names in rules.wanted_tags().items():
        group = await TagGroup.filter(name=group_name, deleted=False).first()
        existing = set()
        if group is not None:
            names_found: list[str] = await Tag.filter(group_id=group.id, deleted=False).values_list(  # type: ignore[assignment]
                "name", flat=True
            )
            existing = set(names_found)
        missing = [name for name in names if name not in existing]
        if not missing:
            continue
        try:
            answer = await deps.wecom.add_corp_tag(
                missing, group_id=group.wecom_id if group else "", group_name="" if group else group_name
            )
        except WeComPermanentError as err:
            if err.errcode != _TAG_NAME_EXISTS:
                raise
            # Another process (a worker's re-tag) created them since our sync: mirror WeCom as it is now.
            await sync_corp_tags(deps)
            log.info("wecom_tags_created_elsewhere", group=group_name)
            continue
        local_group, _ = await TagGroup.update_or_create(
            wecom_id=answer["group_id"], defaults={"name": answer.get("group_name", group_name), "deleted": False}
        )
        for tag in answer.get("tag", []):
            await Tag.update_or_create(
                wecom_id=tag["id"], defaults={"group_id": local_group.id, "name": tag["name"], "deleted": False}
            )
        created += len(missing)
        log.info("wecom_tags_created", group=group_name, count=len(missing))
    return created


@dataclass(slots=True)
class SyncResult:
    relations: int = 0
    mark_tag_calls: int = 0
    added: int = 0
    removed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    hour_budget_spent: bool = False  # stopped early: the rest stays pending for a later pass


@dataclass(frozen=True, slots=True)
class _Pending:
    row_id: int
    customer_id: int
    guide_id: int
    userid: str
    external_userid: str
    wecom_tag_id: str
    removing: bool


async def _pending_page(after: tuple[int, int], limit: int, scope: Sequence[int] | None) -> list[_Pending]:
    conn = Tortoise.get_connection("default")
    dialect = Dialect.of(conn)
    p1, p2, p3 = dialect.param(1), dialect.param(2), dialect.param(3)
    scope_sql = ids_filter("ct.customer_id", scope)
    relations = await conn.execute_query_dict(
        "SELECT DISTINCT ct.customer_id, ct.guide_id FROM customer_tag ct "
        "JOIN relationship r ON r.customer_id = ct.customer_id AND r.guide_id = ct.guide_id "
        "AND r.deleted_by_customer_at IS NULL AND r.deleted_by_guide_at IS NULL "
        f"WHERE {PENDING_CONDITION}{scope_sql} AND (ct.customer_id > {p1} OR (ct.customer_id = {p1} "
        f"AND ct.guide_id > {p2})) ORDER BY ct.customer_id, ct.guide_id LIMIT {p3}",
        [after[0], after[1], limit],
    )
    if not relations:
        return []
    pairs = " OR ".join(
        f"(ct.customer_id = {int(r['customer_id'])} AND ct.guide_id = {int(r['guide_id'])})" for r in relations
    )
    rows = await conn.execute_query_dict(
        "SELECT ct.id, ct.customer_id, ct.guide_id, g.userid, c.external_userid, t.wecom_id, ct.removed "
        "FROM customer_tag ct JOIN guide g ON g.id = ct.guide_id JOIN customer c ON c.id = ct.customer_id "
        f"JOIN tag t ON t.id = ct.tag_id WHERE {PENDING_CONDITION} AND ({pairs}) ORDER BY ct.customer_id, ct.guide_id"
    )
    return [
        _Pending(
            int(r["id"]),
            int(r["customer_id"]),
            int(r["guide_id"]),
            r["userid"],
            r["external_userid"],
            r["wecom_id"],
            bool(r["removed"]),
        )
        for r in rows
    ]


async def push_pending(
    deps: Deps,
    *,
    customer_ids: Sequence[int] | None = None,
    concurrency: int = 8,
    page_size: int = 500,
    progress: Progress | None = None,
) -> SyncResult:
    """One pass over every relation with a difference: one mark_tag each, at the pace of mark_tag's
    budget (SCRM_MARK_TAG_PER_SECOND). The hourly budget is never waited for (that would hold an
    event for up to an hour): a pass that finds it spent stops, and what is left stays pending."""
    result = SyncResult()
    slots = asyncio.Semaphore(concurrency)
    after = (0, 0)
    while True:
        page = await _pending_page(after, page_size, customer_ids)
        if not page:
            break
        by_relation: dict[tuple[int, int], list[_Pending]] = defaultdict(list)
        for row in page:
            by_relation[(row.customer_id, row.guide_id)].append(row)
        after = max(by_relation)

        async def push(rows: list[_Pending]) -> None:
            async with slots:
                if not result.hour_budget_spent:
                    await _push_relation(deps, rows, result)

        await asyncio.gather(*(push(rows) for rows in by_relation.values()))
        if progress:
            progress.advance(len(by_relation))
        if result.hour_budget_spent:
            log.warning("tag_sync_hour_budget_spent", per_hour=deps.settings.scrm_mark_tag_per_hour,
                        pushed=result.relations)
            break
    if progress:
        progress.finish()
    log.info(
        "tag_sync_pushed",
        relations=result.relations,
        calls=result.mark_tag_calls,
        added=result.added,
        removed=result.removed,
        failed=result.failed,
        hour_budget_spent=result.hour_budget_spent,
    )
    return result


async def _push_relation(deps: Deps, rows: list[_Pending], result: SyncResult) -> None:
    first = rows[0]
    add = [r for r in rows if not r.removing]
    remove = [r for r in rows if r.removing]
    result.relations += 1
    try:
        result.mark_tag_calls += 1
        await deps.wecom.mark_tag(
            first.userid, first.external_userid, [r.wecom_tag_id for r in add], [r.wecom_tag_id for r in remove]
        )
    except BudgetSpent:
        # Not sent: mark_tag's budget (this hour's, or this minute's past the client's wait) is
        # spent. The relation stays pending for a later pass.
        result.relations -= 1
        result.mark_tag_calls -= 1
        result.hour_budget_spent = True
        return
    except NotExternalContact:
        # The relation is gone in WeCom; the contact events will record how. Nothing to push.
        log.warning("tag_sync_relation_gone", guide_id=first.guide_id, customer_id=first.customer_id)
    except WeComPermanentError as err:
        result.failed += 1
        result.failures.append(f"{first.userid}/{first.external_userid}: {err.errcode}")
        log.error("tag_sync_failed", guide_id=first.guide_id, customer_id=first.customer_id, errcode=err.errcode)
        return
    except WeComError as err:
        # Transient after the client's own retries: left pending for the next push.
        result.failed += 1
        log.warning("tag_sync_deferred", guide_id=first.guide_id, customer_id=first.customer_id, errcode=err.errcode)
        return
    if add:
        await CustomerTag.filter(id__in=[r.row_id for r in add]).update(in_wecom=True)
    if remove:
        await CustomerTag.filter(id__in=[r.row_id for r in remove], removed=True).delete()
    result.added += len(add)
    result.removed += len(remove)


async def reconcile(deps: Deps, *, progress: Progress | None = None) -> int:
    """Compare every relation's tags in WeCom with ours; return how many rows were corrected."""
    members = await deps.wecom.get_follow_user_list()
    corrected = 0
    for start in range(0, len(members), 100):
        cursor = ""
        while True:
            page = await deps.wecom.batch_get_by_user(members[start : start + 100], cursor=cursor)
            corrected += await _reconcile_page(page.get("external_contact_list", []))
            if progress:
                progress.advance(len(page.get("external_contact_list", [])))
            cursor = str(page.get("next_cursor", "") or "")
            if not cursor:
                break
    if progress:
        progress.finish()
    log.info("tags_reconciled", corrected=corrected)
    return corrected


async def _reconcile_page(items: Sequence[Mapping[str, Any]]) -> int:
    corrected = 0
    for item in items:
        follow = item.get("follow_info") or {}
        relationship = await Relationship.get_or_none(
            guide__userid=follow.get("userid", ""),
            customer__external_userid=item["external_contact"]["external_userid"],
        )
        if relationship is not None:
            corrected += await mirror_relation_tags(relationship, tag_ids_of_follow(follow))
    return corrected
