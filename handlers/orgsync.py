"""The address book: WeCom's ``change_contact`` callbacks and the scheduled full sync — thin adapters to orgsync/."""

from __future__ import annotations

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron
from orgsync import service
from orgsync.service import OrgCallback

router = Router("orgsync")


EVENT = "change_contact"


def callback(event: Event, deps: Deps, userid: str = "") -> OrgCallback:
    return OrgCallback(cause=event.route[2] or event.route[1], userid=userid, at=deps.clock.now(), key=event.key)


@router.event(EVENT, "create_user")
async def on_create_user(event: Event, deps: Deps) -> None:
    await service.member_updated(deps, callback(event, deps, event.get("UserID")))


@router.event(EVENT, "update_user")
async def on_update_user(event: Event, deps: Deps) -> None:
    # NewUserID (a changed userid) is not followed: the member is read under the id WeCom gives now.
    await service.member_updated(deps, callback(event, deps, event.get("NewUserID") or event.get("UserID")))


@router.event(EVENT, "delete_user")
async def on_delete_user(event: Event, deps: Deps) -> None:
    await service.member_deleted(deps, callback(event, deps, event.get("UserID")))


@router.event(EVENT, "create_party")
@router.event(EVENT, "update_party")
@router.event(EVENT, "delete_party")
async def on_party_changed(event: Event, deps: Deps) -> None:
    await service.departments_changed(deps, callback(event, deps))


ORG_SYNC = cron("org_sync", "scrm_org_sync_cron")


@router.tick(ORG_SYNC)
async def on_org_sync(event: Event, deps: Deps) -> None:
    """The scheduled full sync (``SCRM_ORG_SYNC_CRON``): catches any callback WeCom did not deliver."""
    await service.scheduled_sync(deps)
