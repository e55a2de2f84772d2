"""orgsync"""

from __future__ import annotations

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.publish import publish
from bot.scheduler import cron
from channels.service import sync_channels
from orgsync.departed import member_left
from orgsync.service import refresh_departments, refresh_member, sync_org

router = Router("orgsync")


EVENT = "change_contact"


async def org_changed(deps: Deps, event: Event) -> None:
    """Codes, boards, routing and SOP read stores and guides from the database: only the codes need work."""
    await publish(deps, "org_changed", {"cause": event.route[2] or event.route[1]}, event.key)


@router.event(EVENT, "create_user")
async def on_create_user(event: Event, deps: Deps) -> None:
    await refresh_member(deps, event.get("UserID"))
    await org_changed(deps, event)


@router.event(EVENT, "update_user")
async def on_update_user(event: Event, deps: Deps) -> None:
    # NewUserID (a changed userid) is not followed: the member is read under the id WeCom gives now.
    await refresh_member(deps, event.get("NewUserID") or event.get("UserID"))
    await org_changed(deps, event)


@router.event(EVENT, "delete_user")
async def on_delete_user(event: Event, deps: Deps) -> None:
    await member_left(deps, event.get("UserID"), deps.clock.now())
    await org_changed(deps, event)


@router.event(EVENT, "create_party")
@router.event(EVENT, "update_party")
@router.event(EVENT, "delete_party")
async def on_party_changed(event: Event, deps: Deps) -> None:
    await refresh_departments(deps)
    await org_changed(deps, event)


@router.on("internal", "org_changed")
async def on_org_changed(event: Event, deps: Deps) -> None:
    await sync_channels(deps)


ORG_SYNC = cron("org_sync", "scrm_org_sync_cron")


@router.on("internal", ORG_SYNC.name)
async def on_org_sync(event: Event, deps: Deps) -> None:
    """The scheduled full sync (``SCRM_ORG_SYNC_CRON``): catches any callback WeCom did not deliver."""
    result = await sync_org(deps)
    for userid in result.left:
        await member_left(deps, userid, deps.clock.now())
    await sync_channels(deps)
