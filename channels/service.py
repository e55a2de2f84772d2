"""Channel codes as real WeCom contact ways, kept in step with the config and the organisation.

Four kinds (``channel_code`` holds what a ``state`` attributes, ``contact_way`` WeCom's side):
``config`` — every channel of ``org.yaml``; ``store`` — a code for every store org.yaml gives
none (``s_<store>``, answered by the store's guides); ``chat`` — made with ``新建渠道码``;
``guide`` — a personal code for every active guide (``g_<userid>``), attributed to them and
their store and re-pointed when they move. ``sync_channels`` computes what each code should be and calls
WeCom only for the difference: ``add_contact_way`` for a missing code, ``update_contact_way`` when
its members changed, ``del_contact_way`` when it is no longer wanted.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog

from bot.deps import Deps
from bot.lease import exclusive
from bot.progress import Progress
from bot.wecom.errors import WeComPermanentError
from channels.models import ContactWay
from customers.config import ORG
from customers.models import ChannelCode, Guide, Role, Store
from orgsync.models import OrgDepartment

__all__ = [
    "CONFIG",
    "STORE",
    "CHAT",
    "GUIDE",
    "ChannelSyncResult",
    "one_writer",
    "Desired",
    "STATE_MAX",
    "active_member_named",
    "channel_name_taken",
    "ensure_code",
    "live_code_named",
    "member",
    "new_state",
    "personal_code",
    "store_named",
    "store_of",
    "personal_code_name",
    "personal_state",
    "TEMPLATES",
    "store_members",
    "sync_channels",
]

log = structlog.get_logger(__name__)

CONFIG, STORE, CHAT, GUIDE = "config", "store", "chat", "guide"
STATE_MAX = 30  # WeCom's limit for a contact way's state
# The names of the codes the sync makes for each store and each guide.
TEMPLATES = ("channel_store_code", "channel_personal_code")
_MAX_MEMBERS = 100  # users + parties on one contact way
_SERVING_ROLES = (Role.GUIDE, Role.STORE_MANAGER)


@dataclass(frozen=True, slots=True)
class Desired:
    """A code as it should be in WeCom."""

    state: str
    name: str
    kind: str
    store_id: int | None
    guide_userid: str | None
    users: tuple[str, ...]
    parties: tuple[int, ...] = ()
    campaign: str = ""
    welcome: str = "welcome_default"
    created_by: str = ""
    targets: tuple[str, ...] = ()

    @property
    def remark(self) -> str:
        return self.name[:30]

    def body(self) -> dict[str, object]:
        one = len(self.users) == 1 and not self.parties
        body: dict[str, object] = {"type": 1 if one else 2, "scene": 2, "state": self.state, "remark": self.remark,
                                   "skip_verify": True, "user": list(self.users)}
        if self.parties:
            body["party"] = list(self.parties)
        return body


@dataclass(slots=True)
class ChannelSyncResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # states with nobody to answer them
    failed: list[tuple[str, str]] = field(default_factory=list)  # (state, errmsg)


@asynccontextmanager
async def one_writer(deps: Deps, wait_s: float = 30.0) -> AsyncIterator[None]:
    """One process at a time adds codes: two at once could each make the same code in WeCom.
    RetryLater when another process kept the writer for ``wait_s``."""
    key = f"{{{deps.settings.scrm_redis_prefix}}}:channels:writer"
    async with exclusive(deps.redis, key, 600, "another process is syncing channel codes", wait_s=wait_s,
                         defer_s=wait_s):
        yield


def _short(prefix: str, key: str) -> str:
    """``<prefix>_<key>``, or a digest of the key when that would pass 30 characters."""
    state = f"{prefix}_{key}"
    return state if len(state) <= STATE_MAX else f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def store_state(code: str) -> str:
    return _short("s", code)


def personal_state(userid: str) -> str:
    return _short("g", userid)


async def new_state(prefix: str, seed: str) -> str:
    """A fresh state of ≤ 30 characters that no channel uses yet."""
    for attempt in range(100):
        digest = hashlib.sha256(f"{seed}:{attempt}".encode()).hexdigest()[:12]
        state = f"{prefix}_{digest}"[:STATE_MAX]
        if not await ChannelCode.exists(state=state):
            return state
    raise RuntimeError("no free channel state")  # 100 collisions of a 48-bit digest: not in this universe


async def store_members(store_id: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Who answers a store's code: its active guides and managers; past 100, the store's department."""
    guides = await Guide.filter(store_id=store_id, active=True, role__in=_SERVING_ROLES).order_by("id")
    userids = tuple(g.userid for g in guides)
    if len(userids) <= _MAX_MEMBERS:
        return userids, ()
    parties = await OrgDepartment.filter(store_id=store_id, deleted=False)
    if parties:
        return (), tuple(p.id for p in parties)
    return userids[:_MAX_MEMBERS], ()


async def _active_userids(userids: Iterable[str]) -> tuple[str, ...]:
    wanted = list(userids)
    active = {g.userid for g in await Guide.filter(userid__in=wanted, active=True)}
    return tuple(u for u in wanted if u in active)


def personal_code_name(deps: Deps, guide: Guide) -> str:
    """A guide's personal code's name (in WeCom and in 渠道数据)."""
    return deps.config.templates.render("channel_personal_code", name=guide.name or guide.userid)


async def _desired(deps: Deps) -> list[Desired]:
    org = deps.config[ORG]
    store_ids = {store.code: store.id for store in await Store.all()}
    wanted: list[Desired] = []
    users: tuple[str, ...]
    parties: tuple[int, ...]
    for conf in org.channels.values():
        store_id = store_ids.get(conf.store or "")
        if conf.guide:
            users, parties = await _active_userids([conf.guide]), ()
        elif store_id is not None:
            users, parties = await store_members(store_id)
        else:
            users, parties = (), ()
        wanted.append(Desired(conf.state, conf.name or conf.state, CONFIG, store_id, conf.guide, users, parties,
                              conf.campaign, conf.welcome))
    config_store_codes = {c.store for c in org.channels.values() if c.store and not c.guide and not c.campaign}
    for store in await Store.all().order_by("id"):
        if store.code in config_store_codes or store_state(store.code) in org.channels:
            continue  # org.yaml has this store's code already (or uses its state for another)
        users, parties = await store_members(store.id)
        name = deps.config.templates.render("channel_store_code", name=store.name)
        wanted.append(Desired(store_state(store.code), name, STORE, store.id, None, users, parties,
                              welcome="welcome_store"))
    chat_ways = await ContactWay.filter(kind=CHAT, deleted_at__isnull=True).prefetch_related("channel")
    for way in chat_ways:
        channel = way.channel
        if way.targets:
            users, parties = await _active_userids(way.targets), ()
        elif channel.store_id is not None:
            users, parties = await store_members(channel.store_id)
        else:
            users, parties = (), ()
        wanted.append(Desired(channel.state, channel.name, CHAT, channel.store_id, channel.guide_userid,
                              users, parties, channel.campaign, channel.welcome_template or "welcome_default",
                              way.created_by, tuple(way.targets)))
    guides = await Guide.filter(active=True, role__in=_SERVING_ROLES).order_by("id")
    for guide in guides:
        if personal_state(guide.userid) in org.channels:
            log.warning("personal_code_state_taken", userid=guide.userid)  # org.yaml's channel wins
            continue
        wanted.append(Desired(personal_state(guide.userid), personal_code_name(deps, guide), GUIDE,
                              guide.store_id, guide.userid, (guide.userid,),
                              welcome="welcome_store" if guide.store_id else "welcome_default"))
    return wanted


@dataclass(slots=True)
class _Known:
    """What the database holds already, read once per sync (a sync of 2,000 guides is 2 reads, not 4,000)."""

    channels: dict[str, ChannelCode]
    ways: dict[int, ContactWay]

    @classmethod
    async def load(cls) -> _Known:
        channels = {c.state: c for c in await ChannelCode.all()}
        ways = {w.channel_id: w for w in await ContactWay.all()}
        return cls(channels, ways)


async def _channel_row(desired: Desired, known: _Known | None) -> ChannelCode:
    values = {"name": desired.name[:64], "store_id": desired.store_id, "guide_userid": desired.guide_userid,
              "campaign": desired.campaign[:64], "welcome_template": desired.welcome}
    channel = known.channels.get(desired.state) if known is not None else None
    if channel is None:
        channel, _ = await ChannelCode.update_or_create(state=desired.state, defaults=values)
    elif any(getattr(channel, name) != value for name, value in values.items()):
        await ChannelCode.filter(id=channel.id).update(**values)  # e.g. a personal code's guide moved store
    return channel


async def ensure_code(
    deps: Deps, desired: Desired, result: ChannelSyncResult | None = None, known: _Known | None = None
) -> ContactWay | None:
    """Make the code exist in WeCom as ``desired`` says; the stored way (None when WeCom refused)."""
    result = result if result is not None else ChannelSyncResult()
    channel = await _channel_row(desired, known)
    if known is not None and channel.id in known.ways:
        way: ContactWay | None = known.ways[channel.id]
    else:
        way = await ContactWay.get_or_none(channel_id=channel.id)
    if not desired.users and not desired.parties:
        result.skipped.append(desired.state)
        if way is not None and way.deleted_at is None and way.config_id:
            await _delete(deps, way, result)  # its last member left: nobody would answer a scan
        return None
    try:
        if way is None or way.deleted_at is not None or not way.config_id:
            body = desired.body()
            answer = await deps.wecom.create_contact_way(body)
            values = {
                "kind": desired.kind, "config_id": str(answer["config_id"]), "qr_code": str(answer.get("qr_code", "")),
                "type": body["type"], "users": list(desired.users), "parties": list(desired.parties),
                "remark": desired.remark, "owner_userid": desired.guide_userid if desired.kind == GUIDE else None,
                "created_by": desired.created_by, "targets": list(desired.targets), "media_id": "",
                "media_uploaded_at": None, "deleted_at": None,
            }
            way, _ = await ContactWay.update_or_create(channel_id=channel.id, defaults=values)
            result.created += 1
            log.info("channel_code_created", state=desired.state, kind=desired.kind, users=len(desired.users))
            return way
        same_members = set(way.users) == set(desired.users) and set(way.parties) == set(desired.parties)
        if not same_members or way.remark != desired.remark:
            await deps.wecom.update_contact_way(
                way.config_id, {"user": list(desired.users), "party": list(desired.parties), "remark": desired.remark}
            )
            way.users, way.parties, way.remark = list(desired.users), list(desired.parties), desired.remark
            await way.save(update_fields=["users", "parties", "remark", "updated_at"])
            result.updated += 1
            log.info("channel_code_updated", state=desired.state, users=len(desired.users))
        else:
            result.unchanged += 1
    except WeComPermanentError as err:
        result.failed.append((desired.state, err.errmsg))
        log.warning("channel_code_refused", state=desired.state, errcode=err.errcode, errmsg=err.errmsg)
        return None
    return way


async def _delete(deps: Deps, way: ContactWay, result: ChannelSyncResult) -> None:
    try:
        if way.config_id:
            await deps.wecom.del_contact_way(way.config_id)
    except WeComPermanentError as err:
        # Gone already (deleted twice, or by hand): what we wanted is true.
        log.info("channel_code_already_gone", config_id=way.config_id, errcode=err.errcode)
    way.deleted_at = deps.clock.now()
    way.media_id = ""
    await way.save(update_fields=["deleted_at", "media_id", "updated_at"])
    result.deleted += 1
    log.info("channel_code_deleted", way_id=way.id, kind=way.kind)


async def sync_channels(deps: Deps, *, progress: Progress | None = None) -> ChannelSyncResult:
    """Every wanted code made or updated in WeCom; codes no longer wanted deleted. Safe to re-run."""
    async with one_writer(deps):
        return await _sync_channels(deps, progress)


async def _sync_channels(deps: Deps, progress: Progress | None) -> ChannelSyncResult:
    result = ChannelSyncResult()
    wanted = await _desired(deps)
    known = await _Known.load()
    if progress is not None:
        progress.set_total(len(wanted))
    for desired in wanted:
        await ensure_code(deps, desired, result, known)
        if progress is not None:
            progress.advance()
    states = {d.state for d in wanted}
    live = await ContactWay.filter(deleted_at__isnull=True, config_id__not_isnull=True).prefetch_related("channel")
    for way in live:
        if way.channel.state not in states:
            await _delete(deps, way, result)
    if progress is not None:
        progress.finish()
    log.info("channels_synced", created=result.created, updated=result.updated, deleted=result.deleted,
             unchanged=result.unchanged, skipped=len(result.skipped), failed=len(result.failed))
    return result


async def live_codes(kinds: Sequence[str] = (CONFIG, STORE, CHAT, GUIDE)) -> list[ContactWay]:
    return list(
        await ContactWay.filter(deleted_at__isnull=True, config_id__not_isnull=True, kind__in=list(kinds))
        .prefetch_related("channel", "channel__store")
        .order_by("kind", "id")
    )


# --- lookups for the chat commands (channels/chat.py) -------------------------------------------------


async def live_code_named(name: str) -> ContactWay | None:
    """A live code (with its channel) by the channel's name, else its state."""
    for channel in await ChannelCode.filter(name=name) + await ChannelCode.filter(state=name):
        way = await ContactWay.get_or_none(channel_id=channel.id, deleted_at__isnull=True,
                                           config_id__not_isnull=True)
        if way is not None:
            await way.fetch_related("channel")
            return way
    return None


async def personal_code(userid: str) -> ContactWay | None:
    """The member's live personal code, if the sync (or 我的码) made it."""
    return await ContactWay.get_or_none(owner_userid=userid, deleted_at__isnull=True, config_id__not_isnull=True)


async def channel_name_taken(name: str) -> bool:
    return await ChannelCode.exists(name=name)


async def store_named(word: str) -> Store | None:
    """A store by its code, else its name."""
    return await Store.get_or_none(code=word) or await Store.filter(name=word).first()


async def store_of(store_id: int | None) -> Store | None:
    return await Store.get_or_none(id=store_id) if store_id else None


async def active_member_named(word: str) -> Guide | None:
    """An active member by userid, else by name."""
    return await Guide.get_or_none(userid=word, active=True) or await Guide.filter(name=word, active=True).first()


async def member(userid: str) -> Guide:
    return await Guide.get(userid=userid)
