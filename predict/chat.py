"""One customer's prediction in words a guide reads: the 客户 profile, the demo, and (where one exists) the sidebar.

The words are templates (config/templates.yaml, the ids in predict/config.py); the figures are formatted here.
"""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.templates import Templates
from customers.models import Customer
from predict.config import REASON_TEXTS, SIGNAL_TEXTS
from predict.models import CustomerPrediction

__all__ = ["prediction_lines", "prediction_json", "describe", "why_text", "reason_texts"]


def _figure(kind: str, value: float) -> str:
    if kind == "amount":
        return f"{value:,.0f}"
    if kind == "share":
        return f"{value:.0%}"
    return f"{value:.0f}"


def reason_texts(templates: Templates, reasons: list[dict[str, Any]]) -> list[str]:
    """What moved the score, e.g. 「近30天加购3次（+18%）」「已超过平时复购间隔（−9%）」."""
    out = []
    for reason in reasons:
        feature, value, change = str(reason["feature"]), float(reason["value"]), float(reason["change"])
        if feature not in REASON_TEXTS:
            continue
        template_id, kind = REASON_TEXTS[feature]
        if feature == "recency_over_gap" and value <= 1:
            template_id = "predict_reason_not_due"
        word = SIGNAL_TEXTS.get(feature.replace("_days_since", "_30d"), "")
        word_text = templates.render(word) if word else ""
        text = templates.render(template_id, **{kind: _figure(kind, value)}, word=word_text)
        sign = "+" if change >= 0 else "−"
        out.append(templates.render("predict_reason", reason=text, change=f"{sign}{abs(change):.0%}"))
    return out


def why_text(templates: Templates, why: dict[str, Any]) -> str:
    """What moved the score most (``reasons``, from the nightly run); without them, the facts behind it, e.g.
    「最近一次购买 12 天前，共 3 次，累计 ¥2,340，约每 20 天一次」."""
    reasons = reason_texts(templates, list(why.get("reasons") or []))
    if reasons:
        return "，".join(reasons)
    parts = []
    if "recency" in why:
        parts.append(templates.render("predict_why_recency", days=f"{why['recency']:.0f}"))
    if "n" in why:
        parts.append(templates.render("predict_why_count", count=f"{why['n']:.0f}"))
    if "value" in why:
        parts.append(templates.render("predict_why_value", amount=f"{why['value']:,.0f}"))
    if "gap_mean" in why:
        parts.append(templates.render("predict_why_gap", days=f"{why['gap_mean']:.0f}"))
    signals = [
        templates.render("predict_why_signal", word=templates.render(word), count=f"{why[key]:.0f}")
        for key, word in SIGNAL_TEXTS.items() if why.get(key)
    ]
    if signals:
        parts.append(templates.render("predict_why_signals", items="、".join(signals)))
    return "，".join(parts)


def describe(templates: Templates, p: CustomerPrediction) -> str:
    rank = max(1, round(p.rank_pct * 100 + 0.5))
    next_date = (templates.render("predict_next_date", date=f"{p.next_purchase_on:%Y-%m-%d}") if p.next_purchase_on
                 else templates.render("predict_no_next_date"))
    return templates.render(
        "predict_profile", p_buy_90=f"{p.p_buy_90:.0%}", p_buy_30=f"{p.p_buy_30:.0%}", rank=f"{rank}%",
        purchases_90=f"{p.purchases_90:.1f}", spend_90=f"{p.spend_90:,.0f}", p_alive=f"{p.p_alive:.0%}",
        next_date=next_date, why=why_text(templates, p.why) or "-",
    )


async def prediction_lines(deps: Deps, customer: Customer) -> list[str]:
    """The 客户 profile's prediction section (nothing before the first nightly run, or for a non-buyer)."""
    found = await CustomerPrediction.get_or_none(customer_id=customer.id)
    return [] if found is None else describe(deps.config.templates, found).split("\n")


async def prediction_json(customer_id: int) -> dict[str, Any] | None:
    """The figures as JSON for a page (the sidebar): None before the first nightly run or for a non-buyer.
    ``why`` holds the facts as figures (the page words them; the profile's words are ``describe``)."""
    p = await CustomerPrediction.get_or_none(customer_id=customer_id)
    if p is None:
        return None
    return {
        "p_buy_30": round(p.p_buy_30, 4), "p_buy_90": round(p.p_buy_90, 4), "purchases_90": round(p.purchases_90, 2),
        "spend_90": round(p.spend_90, 2), "p_alive": round(p.p_alive, 4), "rank_pct": round(p.rank_pct, 4),
        "next_purchase_on": p.next_purchase_on.isoformat() if p.next_purchase_on else None, "method": p.method,
        "why": dict(p.why), "computed_at": p.computed_at.isoformat(),
    }
