"""Chat commands and profile lines for leads: 线索 (my open leads)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.commands import EVERYONE, Call, command
from bot.deps import Deps
from customers.models import Customer, Guide, Role
from leads.models import OPEN_STATUSES, Lead, LeadStatus

_STATUS_NAMES = {
    LeadStatus.SENT: "待联系",
    LeadStatus.SNOOZED: "稍后提醒",
    LeadStatus.FOLDED: "汇总中",
    LeadStatus.HELD: "待发送",
}
LIMIT = 10


@command("线索", "leads", "我的线索", roles=EVERYONE, help="我还没跟进的线索（店长：全店），按优先级")
async def open_leads(call: Call) -> str:
    deps, caller = call.deps, call.caller
    zone = ZoneInfo(deps.settings.scrm_timezone)
    query = Lead.filter(status__in=list(OPEN_STATUSES), created_at__gte=deps.clock.now() - timedelta(days=7))
    if caller.role == Role.STORE_MANAGER and caller.store_id is not None:
        members = await Guide.filter(store_id=caller.store_id).values_list("userid", flat=True)
        query = query.filter(guide_userid__in=[str(m) for m in members])
        scope = "本店"
    else:
        query = query.filter(guide_userid=caller.userid)
        scope = "你"
    leads = await query.order_by("-priority", "-score", "-created_at").select_related("customer")
    if not leads:
        return f"{scope}目前没有待跟进的线索 👍"
    lines = [f"{scope}有 {len(leads)} 条待跟进线索（近7天，按优先级）："]
    for i, lead in enumerate(leads[:LIMIT], 1):
        title = deps.config.leads.patterns[lead.pattern].title if lead.pattern in deps.config.leads.patterns else ""
        when = lead.created_at.astimezone(zone)
        lines.append(f"{i}. {lead.customer.name or lead.customer.external_userid}｜{title}｜{lead.reason or '-'}"
                     f"（{when:%m-%d %H:%M}，{_STATUS_NAMES[lead.status]}）")
    if len(leads) > LIMIT:
        lines.append(f"……另有 {len(leads) - LIMIT} 条")
    return "\n".join(lines)


async def lead_lines(deps: Deps, customer: Customer) -> list[str]:
    leads = await Lead.filter(customer_id=customer.id, status__in=list(OPEN_STATUSES)).order_by("-created_at").limit(3)
    return [f"线索：{lead.reason or lead.pattern}（{_STATUS_NAMES[lead.status]}）" for lead in leads]


