"""One customer's prediction in words a guide reads: the 客户 profile, the demo, and (where one exists) the sidebar."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.templates import Templates
from customers.models import Customer
from predict.models import CustomerPrediction

__all__ = ["prediction_lines", "prediction_json", "describe", "why_text"]

_SIGNAL_WORDS = {
    "browse_30d": "浏览", "add_to_cart_30d": "加购", "checkout_started_30d": "发起结算", "coupon_claimed_30d": "领券",
    "coupon_redeemed_30d": "用券", "link_open_30d": "打开链接", "chat_30d": "发消息", "chat_intent_30d": "询价/问货",
}
_METHODS = {"model": "模型（回测胜出）", "rfm": "RFM（模型回测未胜出）"}


def why_text(why: dict[str, Any]) -> str:
    """The facts behind a prediction, e.g. 「最近一次购买 12 天前，共 3 次，累计 ¥2,340，约每 20 天一次」."""
    parts = []
    if "recency" in why:
        parts.append(f"最近一次购买 {why['recency']:.0f} 天前")
    if "n" in why:
        parts.append(f"共 {why['n']:.0f} 次")
    if "value" in why:
        parts.append(f"累计 ¥{why['value']:,.0f}")
    if "gap_mean" in why:
        parts.append(f"约每 {why['gap_mean']:.0f} 天一次")
    signals = [f"{word} {why[key]:.0f} 次" for key, word in _SIGNAL_WORDS.items() if why.get(key)]
    if signals:
        parts.append("近30天" + "、".join(signals))
    return "，".join(parts)


def describe(templates: Templates, p: CustomerPrediction) -> str:
    rank = max(1, round(p.rank_pct * 100 + 0.5))
    next_date = f"预计 {p.next_purchase_on:%Y-%m-%d} 前后再次购买" if p.next_purchase_on else "一年内不太可能再次购买"
    return templates.render(
        "predict_profile", p_buy_90=f"{p.p_buy_90:.0%}", p_buy_30=f"{p.p_buy_30:.0%}", rank=f"{rank}%",
        purchases_90=f"{p.purchases_90:.1f}", spend_90=f"{p.spend_90:,.0f}", p_alive=f"{p.p_alive:.0%}",
        next_date=next_date, method=_METHODS.get(p.method, p.method), why=why_text(p.why) or "-",
    )


async def prediction_lines(deps: Deps, customer: Customer) -> list[str]:
    """The 客户 profile's prediction section (nothing before the first nightly run, or for a non-buyer)."""
    found = await CustomerPrediction.get_or_none(customer_id=customer.id)
    return [] if found is None else describe(deps.config.templates, found).split("\n")


async def prediction_json(customer_id: int) -> dict[str, Any] | None:
    """The figures as JSON for a page (the sidebar): None before the first nightly run or for a non-buyer."""
    p = await CustomerPrediction.get_or_none(customer_id=customer_id)
    if p is None:
        return None
    return {
        "p_buy_30": round(p.p_buy_30, 4), "p_buy_90": round(p.p_buy_90, 4), "purchases_90": round(p.purchases_90, 2),
        "spend_90": round(p.spend_90, 2), "p_alive": round(p.p_alive, 4), "rank_pct": round(p.rank_pct, 4),
        "next_purchase_on": p.next_purchase_on.isoformat() if p.next_purchase_on else None, "method": p.method,
        "why": why_text(p.why), "computed_at": p.computed_at.isoformat(),
    }
