"""The local mirror of WeCom corp tags (groups and tags, with WeCom ids) and of each relation's tags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from bot.deps import Deps
from customers.models import CustomerTag, Relationship, Tag, TagGroup, TagSource

__all__ = ["sync_corp_tags", "mirror_relation_tags"]

log = structlog.get_logger(__name__)


async def sync_corp_tags(deps: Deps) -> tuple[int, int]:
    """Full sync from get_corp_tag_list: upsert every group and tag, mark the vanished ones deleted."""
    groups = await deps.wecom.get_corp_tag_list()
    seen_groups: set[str] = set()
    seen_tags: set[str] = set()
    for group in groups:
        tag_group, _ = await TagGroup.update_or_create(
            wecom_id=group["group_id"],
            defaults={
                "name": group.get("group_name", "")[:64],
                "order": int(group.get("order", 0) or 0),
                "deleted": bool(group.get("deleted", False)),
            },
        )
        seen_groups.add(tag_group.wecom_id)
        for tag in group.get("tag", []):
            await Tag.update_or_create(
                wecom_id=tag["id"],
                defaults={
                    "group_id": tag_group.id,
                    "name": tag.get("name", "")[:64],
                    "order": int(tag.get("order", 0) or 0),
                    "deleted": bool(tag.get("deleted", False)),
                },
            )
            seen_tags.add(tag["id"])
    await TagGroup.exclude(wecom_id__in=seen_groups).update(deleted=True)
    await Tag.exclude(wecom_id__in=seen_tags).update(deleted=True)
    log.info("corp_tags_synced", groups=len(seen_groups), tags=len(seen_tags))
    return len(seen_groups), len(seen_tags)


async def mirror_relation_tags(relationship: Relationship, wecom_tag_ids: Iterable[str]) -> int:
    """Align our rows for one (guide, customer) relation with the tags WeCom shows; return changes.

    - A rule tag WeCom lacks is marked ``in_wecom = false``: the next tag push puts it back
      (rules are authoritative for what they give).
    - A tag WeCom has that we did not know was set there by a guide or an admin: recorded as
      ``source = wecom`` and never removed by rules.
    - A guide's tag that WeCom no longer has is dropped here too.
    """
    present: set[int] = set(
        await Tag.filter(wecom_id__in=list(set(wecom_tag_ids))).values_list("id", flat=True)  # type: ignore[arg-type]
    )
    customer_id, guide_id = relationship.customer_id, relationship.guide_id
    changes = 0
    known: set[int] = set()
    for row in await CustomerTag.filter(customer_id=customer_id, guide_id=guide_id):
        tag_id: int = row.tag_id
        known.add(tag_id)
        in_wecom = tag_id in present
        if row.source == TagSource.RULE:
            if row.in_wecom != in_wecom:
                row.in_wecom = in_wecom
                await row.save(update_fields=["in_wecom", "updated_at"])
                changes += 1
        elif not in_wecom:
            await row.delete()
            changes += 1
    new = present - known
    await CustomerTag.bulk_create(
        [
            CustomerTag(customer_id=customer_id, guide_id=guide_id, tag_id=tag_id, source=TagSource.WECOM)
            for tag_id in new
        ],
        ignore_conflicts=True,
    )
    return changes + len(new)


def tag_ids_of_follow(follow: Mapping[str, Any]) -> list[str]:
    """Tag ids from a follow_user (``tags`` [{tag_id}]) or a follow_info (``tag_id`` [ids])."""
    if "tag_id" in follow:
        return [str(t) for t in follow.get("tag_id") or []]
    return [str(t["tag_id"]) for t in follow.get("tags") or [] if t.get("tag_id")]
