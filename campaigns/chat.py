"""The operators' 群发 in chat: ``群发 <名称> 标签=… 内容=…`` previews (customers per guide, holdout, capped) and
keeps the draft; ``确认群发 <名称>`` (a second message) sends it. Replies are rendered from templates."""

from __future__ import annotations

import json

from bot.deps import Deps
from campaigns import service
from campaigns.audience import Audience
from customers.models import Guide

__all__ = ["TEMPLATES", "after_command", "confirm_reply", "parse_draft", "preview_reply"]

TEMPLATES = (
    "campaign_remind_guide", "campaign_moment_remind_guide", "campaign_preview", "campaign_preview_line",
    "campaign_sent", "campaign_nothing_pending", "campaign_exists", "campaign_refused", "campaign_usage",
    "campaign_empty_audience", "behaviour_reply_drop_line", "behaviour_summary",
)
DRAFT_TTL_S = 1800
_KEYS = {"标签": "tags", "阶段": "stages", "门店": "store", "对照": "holdout", "内容": "text", "附件": "attachments"}


def after_command(typed: str, parsed: str) -> str:
    """What follows the command word in the message as typed; the parsed argument when it cannot be found."""
    words = parsed.split()
    if not words:
        return parsed
    start = typed.find(words[0])
    return typed[start:].strip() if start >= 0 else parsed


def parse_draft(text: str) -> tuple[str, dict[str, str]] | None:
    """``<名称> 标签=A,B 门店=X 对照=5 内容=…`` → (name, fields); 内容 takes the rest of the line. None if malformed."""
    head, sep, content = text.partition("内容=")
    words = head.split()
    if not words or not sep or not content.strip():
        return None
    fields = {"text": content.strip()}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or key not in _KEYS:
            return None
        fields[_KEYS[key]] = value
    return words[0], fields


def _spec(name: str, fields: dict[str, str], by: str) -> service.CampaignSpec:
    split = [v for v in fields.get("tags", "").replace("，", ",").split(",") if v]
    stages = [v for v in fields.get("stages", "").replace("，", ",").split(",") if v]
    items = [v for v in fields.get("attachments", "").replace("，", ",").split(",") if v]
    holdout = fields.get("holdout", "").rstrip("%")
    return service.CampaignSpec(
        name, Audience(tuple(split), tuple(stages), fields.get("store", "")), fields["text"], tuple(items),
        float(holdout) if holdout.replace(".", "", 1).isdigit() else None, source="chat", created_by=by,
    )


def _draft_key(deps: Deps, userid: str, name: str) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:campaign:draft:{userid}:{name}"


async def preview_reply(deps: Deps, userid: str, text: str) -> str:
    templates = deps.config.templates
    parsed = parse_draft(text)
    if parsed is None:
        return templates.render("campaign_usage")
    name, fields = parsed
    if await service.by_name(name) is not None:
        return templates.render("campaign_exists", name=name)
    spec = _spec(name, fields, userid)
    if spec.audience.empty:
        return templates.render("campaign_usage")
    try:
        service.check_content(deps, spec.text, spec.attachments)
    except service.ContentError as err:
        return templates.render("campaign_refused", name=name, reason=str(err))
    shown = await service.preview(deps, name, spec.audience, spec.holdout_pct)
    if not shown.customers:
        return templates.render("campaign_empty_audience", name=name)
    names = dict(await Guide.filter(userid__in=list(shown.by_guide)).values_list("userid", "name"))
    lines = "\n".join(templates.render("campaign_preview_line", guide_name=names.get(u) or u, customers=n)
                      for u, n in shown.by_guide.items())
    await deps.redis.set(_draft_key(deps, userid, name), json.dumps(fields, ensure_ascii=False), ex=DRAFT_TTL_S)
    return templates.render("campaign_preview", name=name, customers=shown.customers, holdout=shown.holdout,
                            capped=shown.capped, lines=lines, text=spec.text)


async def confirm_reply(deps: Deps, userid: str, name: str) -> str:
    templates = deps.config.templates
    name = name.strip()
    raw = await deps.redis.getdel(_draft_key(deps, userid, name))
    if raw is None:
        return templates.render("campaign_nothing_pending", name=name)
    spec = _spec(name, json.loads(raw), userid)
    try:
        campaign, sent = await service.send(deps, spec)
    except service.ContentError as err:
        return templates.render("campaign_refused", name=name, reason=str(err))
    return templates.render("campaign_sent", name=campaign.name, tasks=sent.tasks, customers=sent.customers)
