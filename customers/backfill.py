"""``scrm sync contacts``: page through every guide's customers into the database, resumably.

get_follow_user_list gives the members; batch/get_by_user pages their customers 100 at a time
(up to 100 members per call). After every page the position (member chunk, cursor) is saved in
``sync_state``, so an interrupted backfill resumes at the page it stopped at. Writes are bulk
upserts: a page is a handful of statements, not one per customer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from bot.deps import Deps
from bot.progress import Progress
from customers.models import ChannelCode, Customer, CustomerTag, Guide, Relationship, SyncState, Tag, TagSource
from customers.service import utc_from_unix
from customers.tags import sync_corp_tags, tag_ids_of_follow

__all__ = ["backfill_contacts", "BackfillResult"]

log = structlog.get_logger(__name__)
SYNC_NAME = "contacts_backfill"
MEMBERS_PER_CALL = 100


@dataclass(frozen=True, slots=True)
class BackfillResult:
    members: int
    contacts: int
    pages: int
    resumed: bool


async def backfill_contacts(
    deps: Deps, *, progress: Progress | None = None, max_pages: int | None = None
) -> BackfillResult:
    """Run (or resume) the backfill; ``max_pages`` stops early, as an interruption would."""
    progress = progress or Progress("contacts", enabled=False)
    state, created = await SyncState.get_or_create(name=SYNC_NAME)
    resumed = not created and bool(state.data.get("members"))
    if not resumed:
        await sync_corp_tags(deps)
        members = await deps.wecom.get_follow_user_list()
        state.data = {"members": members, "chunk": 0, "cursor": "", "contacts": 0, "pages": 0}
        await state.save()
    data = state.data
    members = list(data["members"])
    chunks = [members[i : i + MEMBERS_PER_CALL] for i in range(0, len(members), MEMBERS_PER_CALL)]
    progress.done = int(data["contacts"])
    pages_now = 0
    while data["chunk"] < len(chunks):
        if max_pages is not None and pages_now >= max_pages:
            log.info("backfill_paused", chunk=data["chunk"], contacts=data["contacts"])
            return BackfillResult(len(members), int(data["contacts"]), int(data["pages"]), resumed)
        page = await deps.wecom.batch_get_by_user(chunks[data["chunk"]], cursor=data["cursor"], limit=100)
        items = page.get("external_contact_list", [])
        await store_page(deps, items)
        pages_now += 1
        cursor = str(page.get("next_cursor", "") or "")
        data = data | {"cursor": cursor, "contacts": data["contacts"] + len(items), "pages": data["pages"] + 1}
        if not cursor:
            data |= {"chunk": data["chunk"] + 1, "cursor": ""}
        state.data = data
        await state.save(update_fields=["data", "updated_at"])
        progress.advance(len(items))
    progress.finish()
    await state.delete()
    log.info("backfill_done", members=len(members), contacts=data["contacts"], pages=data["pages"])
    return BackfillResult(len(members), int(data["contacts"]), int(data["pages"]), resumed)


async def store_page(deps: Deps, items: Sequence[Mapping[str, Any]]) -> None:
    if not items:
        return
    now = deps.clock.now()
    contacts = {item["external_contact"]["external_userid"]: item["external_contact"] for item in items}
    await Customer.bulk_create(
        [
            Customer(
                external_userid=ext_id,
                unionid=c.get("unionid") or None,
                name=str(c.get("name", ""))[:128],
                type=int(c.get("type", 1) or 1),
                gender=int(c.get("gender", 0) or 0),
                avatar=str(c.get("avatar", ""))[:512],
                corp_name=str(c.get("corp_name", ""))[:128],
                first_seen_at=now,
            )
            for ext_id, c in contacts.items()
        ],
        on_conflict=["external_userid"],
        update_fields=["unionid", "name", "type", "gender", "avatar", "corp_name"],
    )
    follows = [(item["external_contact"]["external_userid"], item.get("follow_info") or {}) for item in items]
    userids = {f["userid"] for _, f in follows if f.get("userid")}
    await Guide.bulk_create([Guide(userid=u) for u in userids], ignore_conflicts=True)
    customer_ids = dict(await Customer.filter(external_userid__in=list(contacts)).values_list("external_userid", "id"))
    guide_ids = dict(await Guide.filter(userid__in=list(userids)).values_list("userid", "id"))
    states = {f.get("state") for _, f in follows if f.get("state")}
    channel_ids = dict(await ChannelCode.filter(state__in=list(states)).values_list("state", "id")) if states else {}
    await Relationship.bulk_create(
        [
            Relationship(
                guide_id=guide_ids[f["userid"]],
                customer_id=customer_ids[ext_id],
                state=str(f.get("state", ""))[:30],
                channel_id=channel_ids.get(f.get("state")),
                add_way=int(f.get("add_way", 0) or 0),
                remark=str(f.get("remark", ""))[:128],
                description=str(f.get("description", ""))[:512],
                created_at=utc_from_unix(f.get("createtime")) or now,
            )
            for ext_id, f in follows
            if f.get("userid")
        ],
        on_conflict=["guide_id", "customer_id"],
        update_fields=["remark", "description", "add_way"],
    )
    wecom_tag_ids = {t for _, f in follows for t in tag_ids_of_follow(f)}
    if wecom_tag_ids:
        tag_ids = dict(await Tag.filter(wecom_id__in=list(wecom_tag_ids)).values_list("wecom_id", "id"))
        await CustomerTag.bulk_create(
            [
                CustomerTag(
                    customer_id=customer_ids[ext_id],
                    guide_id=guide_ids[f["userid"]],
                    tag_id=tag_ids[t],
                    source=TagSource.WECOM,
                )
                for ext_id, f in follows
                if f.get("userid")
                for t in tag_ids_of_follow(f)
                if t in tag_ids
            ],
            ignore_conflicts=True,
        )
