"""Scheduled campaigns (config/campaigns.yaml): each is sent once, at the first tick after its time."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import structlog

from bot.deps import Deps
from campaigns import service
from campaigns.config import CAMPAIGNS
from campaigns.models import Campaign

__all__ = ["send_due"]

log = structlog.get_logger(__name__)


async def send_due(deps: Deps) -> list[str]:
    """The scheduled campaigns whose time has come and that were not sent yet; their names."""
    zone = ZoneInfo(deps.settings.scrm_timezone)
    now = deps.clock.now()
    sent: list[str] = []
    for item in deps.config[CAMPAIGNS].campaigns:
        if item.at.replace(tzinfo=zone) > now:
            continue
        existing = await Campaign.get_or_none(name=item.name)
        if existing is not None and existing.sent_at is not None:
            continue
        spec = service.CampaignSpec(item.name, item.audience, item.text, item.attachments, item.holdout_pct,
                                    source="schedule")
        try:
            await service.send(deps, spec)
        except service.ContentError as err:
            log.error("campaign_scheduled_refused", campaign=item.name, reason=str(err))
            continue
        sent.append(item.name)
    return sent
