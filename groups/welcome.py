"""The group welcome (入群欢迎语): config/groups.yaml's welcomes made in WeCom's library
(``group_welcome_template/add|edit|del``), one per welcome and store (``{store}`` filled in), and
each group's owner told which one to pick for the group (WeCom has no API to set it: the owner
chooses it in the group's settings, and WeCom posts it to every newcomer).

WeCom keeps at most 100 templates a corp: the sync makes the first 100 in file order and reports
the rest as not made, so an operator knows which stores' groups have no welcome.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import structlog

from bot.deps import Deps
from bot.outbox import send_once_or_skip
from bot.wecom.errors import WeComPermanentError
from customers.models import Store
from groups import wecomapi
from groups.config import GROUPS, WelcomeConf
from groups.materials import attachment_body
from groups.models import GroupCode, GroupWelcome

__all__ = ["LIBRARY_MAX", "TEMPLATES", "WelcomeSyncResult", "hint_owner", "sync_welcomes", "welcome_for"]

log = structlog.get_logger(__name__)

LIBRARY_MAX = 100  # WeCom's group welcome library
TEMPLATES = ("group_welcome_hint",)


@dataclass(slots=True)
class WelcomeSyncResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    over_limit: list[str] = field(default_factory=list)  # keys not made: the library is full
    failed: list[tuple[str, str]] = field(default_factory=list)


def _key(welcome: WelcomeConf, store: Store | None) -> str:
    return f"{welcome.id}:{store.code}" if store else welcome.id


def _applies(welcome: WelcomeConf, store: Store) -> bool:
    return store.code in welcome.stores or (not welcome.stores and not welcome.codes)


async def welcome_for(deps: Deps, code: GroupCode) -> tuple[WelcomeConf, str] | None:
    """The welcome a code's groups use and its key: the code's own, one naming the code, one naming its
    store, else the one for every store."""
    welcomes = deps.config[GROUPS].welcomes
    chosen = deps.config[GROUPS].welcome(code.welcome) if code.welcome else None
    chosen = chosen or next((w for w in welcomes if code.name in w.codes), None)
    store = await Store.get_or_none(id=code.store_id) if code.store_id else None
    if chosen is None and store is not None:
        chosen = next((w for w in welcomes if store.code in w.stores), None)
        chosen = chosen or next((w for w in welcomes if not w.stores and not w.codes), None)
    if chosen is None:
        return None
    return chosen, _key(chosen, store if store and not chosen.codes else None)


async def _wanted(deps: Deps) -> dict[str, tuple[WelcomeConf, str, str]]:
    """key → (welcome, store name, code name) for every template the config asks for, in file order."""
    stores = await Store.all().order_by("id")
    wanted: dict[str, tuple[WelcomeConf, str, str]] = {}
    for welcome in deps.config[GROUPS].welcomes:
        if welcome.codes and not welcome.stores:
            wanted[_key(welcome, None)] = (welcome, "", welcome.codes[0])
            continue
        for store in stores:
            if _applies(welcome, store):
                wanted[_key(welcome, store)] = (welcome, store.name, "")
    return wanted


async def _body(deps: Deps, welcome: WelcomeConf, store_name: str, code_name: str) -> dict[str, object]:
    body: dict[str, object] = {"text": {"content": welcome.text.format_map({"store": store_name,
                                                                             "code": code_name})}}
    attachment = await attachment_body(deps, welcome.attachment)
    if attachment is not None:
        body[attachment[0]] = attachment[1]
    return body


def _digest(welcome: WelcomeConf, store_name: str, code_name: str) -> str:
    what = json.dumps([welcome.text, welcome.attachment, store_name, code_name], ensure_ascii=False)
    return hashlib.sha256(what.encode()).hexdigest()[:32]


async def sync_welcomes(deps: Deps) -> WelcomeSyncResult:
    """Every wanted welcome made or edited in WeCom, within its 100; those no longer wanted deleted."""
    result = WelcomeSyncResult()
    wanted = await _wanted(deps)
    made = {row.key: row for row in await GroupWelcome.all()}
    for key in [k for k in made if k not in wanted]:
        try:
            await wecomapi.del_group_welcome(deps, made[key].template_id)
        except WeComPermanentError as err:  # gone already
            log.info("group_welcome_already_gone", key=key, errcode=err.errcode)
        await GroupWelcome.filter(key=key).delete()
        del made[key]
        result.deleted += 1
    room = LIBRARY_MAX - len(made)
    for key, (welcome, store_name, code_name) in wanted.items():
        digest = _digest(welcome, store_name, code_name)
        row = made.get(key)
        try:
            if row is not None and row.digest == digest:
                result.unchanged += 1
            elif row is not None:
                await wecomapi.edit_group_welcome(deps, row.template_id, await _body(deps, welcome, store_name,
                                                                                    code_name))
                await GroupWelcome.filter(id=row.id).update(digest=digest)
                result.updated += 1
            elif room <= 0:
                result.over_limit.append(key)
            else:
                template_id = await wecomapi.add_group_welcome(deps, await _body(deps, welcome, store_name,
                                                                                code_name))
                await GroupWelcome.create(key=key, template_id=template_id, digest=digest)
                room -= 1
                result.created += 1
        except WeComPermanentError as err:
            result.failed.append((key, err.errmsg))
            log.warning("group_welcome_refused", key=key, errcode=err.errcode, errmsg=err.errmsg)
    if result.over_limit:
        log.warning("group_welcome_library_full", limit=LIBRARY_MAX, not_made=len(result.over_limit))
    log.info("group_welcomes_synced", created=result.created, updated=result.updated, deleted=result.deleted,
             unchanged=result.unchanged)
    return result


async def hint_owner(deps: Deps, code: GroupCode, chat_id: str, chat_name: str) -> bool:
    """Tell the group's owner, once, which welcome to pick for a group that joined the code."""
    found = await welcome_for(deps, code)
    if found is None:
        return False
    welcome, key = found
    row = await GroupWelcome.get_or_none(key=key)
    if row is None:
        return False
    store = await Store.get_or_none(id=code.store_id) if code.store_id else None
    text = deps.config.templates.render(
        "group_welcome_hint", name=chat_name or chat_id, code=code.name,
        welcome=welcome.text.format_map({"store": store.name if store else "", "code": code.name}))

    async def send() -> None:
        await deps.wecom.send_text([code.owner_userid], text)

    return await send_once_or_skip(f"gwelcome:{chat_id}:{row.template_id}", "group_welcome_hint",
                                   code.owner_userid, send, deps.clock)
