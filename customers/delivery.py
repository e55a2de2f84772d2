"""What the customers feature sends: the welcome on an add, and the churn alert when a customer
deletes their guide. Each goes out once (bot/outbox.py), whatever the retries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from bot.deps import Deps
from bot.outbox import send_once, send_once_or_skip
from bot.templates import Templates
from bot.wecom import limits
from bot.wecom.errors import WelcomeCodeInvalid
from customers.config import ORG, ChannelConf
from customers.models import ChannelCode, Customer, Guide, Role, Store
from customers.service import ContactAdded, Removal, ensure_guide

__all__ = ["TEMPLATES", "alert_lost", "welcome_added"]

# The churn alert's pieces (customer_lost's {last_purchase} and {channel}).
TEMPLATES = ("customer_lost", "churn_no_purchase", "churn_purchase", "churn_channel_unknown")

log = structlog.get_logger(__name__)


async def welcome_added(deps: Deps, added: ContactAdded, contact: Mapping[str, Any]) -> None:
    """Send the welcome once with the event's code (valid ~20 s, once; no code, no welcome)."""
    if added.welcome_code:
        await _send_welcome(deps, added, contact["external_contact"])


async def _welcome_text(deps: Deps, added: ContactAdded, customer_name: str) -> tuple[str, str]:
    """(template id, text). Names come from the org config in memory; the database only for
    members the config does not list — the welcome code is short-lived, so no slow path first."""
    org = deps.config[ORG]
    channel = org.channels.get(added.state) if added.state else None
    member = org.members.get(added.userid)
    if member is not None and member.name:
        guide_name, store_code = member.name, member.store
    else:
        guide = await ensure_guide(deps, added.userid)
        store = await Store.get_or_none(id=guide.store_id) if guide.store_id else None
        guide_name, store_code = guide.name, store.code if store else None
    if channel is None and added.state:
        channel = await _stored_channel(added.state)
    store_code = (channel.store if channel else None) or store_code
    store_conf = org.stores.get(store_code or "")
    store_name = store_conf.name if store_conf else ""
    if not store_name and store_code:  # a store from WeCom's address book (orgsync/)
        store = await Store.get_or_none(code=store_code)
        store_name = store.name if store else ""
    template_id = channel.welcome if channel else "welcome_default"
    text = deps.config.templates.render(
        template_id,
        customer_name=customer_name,
        guide_name=guide_name,
        store_name=store_name,
        campaign=channel.campaign if channel else "",
    )
    return template_id, text


async def _stored_channel(state: str) -> ChannelConf | None:
    """A code the product made (channels/: by chat, or a guide's own) is not in org.yaml."""
    code = await ChannelCode.get_or_none(state=state).prefetch_related("store")
    if code is None:
        return None
    store = code.store.code if code.store else None
    welcome = code.welcome_template or "welcome_default"
    return ChannelConf(state, code.name, store, code.guide_userid, code.campaign, welcome)


async def _send_welcome(deps: Deps, added: ContactAdded, external: Mapping[str, Any]) -> None:
    template_id, text = await _welcome_text(deps, added, str(external.get("name", "")))

    async def send() -> None:
        await deps.wecom.send_welcome_msg(added.welcome_code, text)

    try:
        sent = await send_once(f"welcome:{added.welcome_code}", "welcome", added.external_userid, send, deps.clock)
    except WelcomeCodeInvalid as err:
        # Used (perhaps by our own send whose mark was lost), expired, or the chat already began:
        # either way done, WeCom will not take it later.
        log.warning("welcome_not_sent", userid=added.userid, errcode=err.errcode, errmsg=err.errmsg)
        return
    if sent:
        log.info("welcome_sent", userid=added.userid, template=template_id)


async def alert_lost(deps: Deps, removal: Removal, at: datetime, event_key: str) -> None:
    """The customer deleted the guide (流失): alert the guide and the store manager(s), once each."""
    if not removal.known:
        # We never saw this customer's details, so an alert could name no one: recorded, not alerted.
        return
    relationship = removal.relationship
    await relationship.fetch_related("guide", "customer", "channel")
    guide, customer = relationship.guide, relationship.customer
    recipients = [guide.userid]
    if guide.store_id:
        managers = await Guide.filter(store_id=guide.store_id, role=Role.STORE_MANAGER, active=True)
        recipients += [m.userid for m in managers if m.userid != guide.userid]
    text = deps.config.templates.render(
        "customer_lost",
        customer_name=customer.name or customer.external_userid,
        guide_name=guide.name or guide.userid,
        days_as_contact=max(0, ((relationship.deleted_by_customer_at or at) - relationship.created_at).days),
        last_purchase=_render_purchase(deps.config.templates, customer, deps.settings.scrm_timezone),
        channel=relationship.channel.name if relationship.channel
        else (relationship.state or deps.config.templates.render("churn_channel_unknown")),
    )
    text = limits.fit(text, limits.TEXT_MAX_BYTES)
    for recipient in recipients:

        async def send(to: str = recipient) -> None:
            await deps.wecom.send_text([to], text)

        # A manager who left the app does not keep the guide (or the next manager) from hearing.
        await send_once_or_skip(f"lost:{event_key}:{recipient}", "churn_alert", recipient, send, deps.clock)
    log.info("customer_removed_guide", relationship_id=relationship.id, alerted=len(recipients))


def _render_purchase(templates: Templates, customer: Customer, timezone: str) -> str:
    if customer.last_purchase_at is None:
        return templates.render("churn_no_purchase")
    local = customer.last_purchase_at.astimezone(ZoneInfo(timezone))
    return templates.render("churn_purchase", date=f"{local:%Y-%m-%d}", count=customer.order_count,
                            amount=f"{customer.total_spent:,.2f}")
