"""The prediction's texts: every template id ``predict/`` renders, with its kind.

The words live in config/templates.yaml (the 客户 profile, the sidebar card, HQ's chart and report); the
feature names ``TEMPLATES`` (predict/__init__.py), so a templates file without one of them, or with one
of another kind, stops the start naming the id rather than a guide's profile failing later.
"""

from __future__ import annotations

__all__ = ["LABEL_TEXTS", "REASON_TEXTS", "SIGNAL_TEXTS", "TEMPLATES"]

# The counted signals of the last 30 days (predict/features.py's names) → the word a guide reads.
SIGNAL_TEXTS = {
    "browse_30d": "predict_signal_browse", "add_to_cart_30d": "predict_signal_add_to_cart",
    "checkout_started_30d": "predict_signal_checkout_started", "coupon_claimed_30d": "predict_signal_coupon_claimed",
    "coupon_redeemed_30d": "predict_signal_coupon_redeemed", "link_open_30d": "predict_signal_link_open",
    "chat_30d": "predict_signal_chat", "chat_intent_30d": "predict_signal_chat_intent",
}
_SIGNAL_KINDS = [key.removesuffix("_30d") for key in SIGNAL_TEXTS]
# A reason a guide reads (predict/reasons.py): a feature of the stacked model → (template id, what the
# figure is: days, count, amount, share or number, which the template shows as {days} … {number}).
# ``recency_over_gap`` reads as one of two sentences (past the usual interval or not), not a figure.
REASON_TEXTS: dict[str, tuple[str, str]] = {
    "recency": ("predict_reason_recency", "days"),
    "n": ("predict_reason_count", "count"),
    "x": ("predict_reason_repeat", "count"),
    "tenure": ("predict_reason_tenure", "days"),
    "value": ("predict_reason_value", "amount"),
    "avg_value": ("predict_reason_avg_value", "amount"),
    "first_value": ("predict_reason_first_value", "amount"),
    "quantity": ("predict_reason_quantity", "count"),
    "gap_mean": ("predict_reason_gap", "days"),
    "gap_std": ("predict_reason_gap_std", "days"),
    "gap_max": ("predict_reason_gap_max", "days"),
    "last_gap": ("predict_reason_last_gap", "days"),
    "recency_over_gap": ("predict_reason_overdue", "number"),
    "rate_week": ("predict_reason_rate", "number"),
    "n_last4w": ("predict_reason_recent_4w", "count"),
    "n_last8w": ("predict_reason_recent_8w", "count"),
    "n_last13w": ("predict_reason_recent_13w", "count"),
    "value_last13w": ("predict_reason_value_13w", "amount"),
    "channel": ("predict_reason_channel", "number"),
    "bg_p_alive": ("predict_reason_alive", "share"),
    "bg_expected": ("predict_reason_expected", "count"),
    "r_quintile": ("predict_reason_r", "number"),
    "f_quintile": ("predict_reason_f", "number"),
    "m_quintile": ("predict_reason_m", "number"),
    "rfm": ("predict_reason_rfm", "number"),
    **{f"{kind}_30d": ("predict_reason_signal", "count") for kind in _SIGNAL_KINDS},
    **{f"{kind}_days_since": ("predict_reason_signal_since", "days") for kind in _SIGNAL_KINDS},
}
# Each back-tested method's name on HQ's chart (predict/backtest.py's METHODS).
LABEL_TEXTS = {
    "model": "predict_label_model", "bgnbd": "predict_label_bgnbd", "rfm": "predict_label_rfm",
    "recency": "predict_label_recency", "lifecycle": "predict_label_lifecycle", "ensemble": "predict_label_ensemble",
}
# Every id with its kind (bot/templates.py's TEMPLATE_KINDS).
TEMPLATES: dict[str, str] = {
    "predict_profile": "prediction",
    **{template_id: "prediction_text" for template_id in (
        "predict_why_recency", "predict_why_count", "predict_why_value", "predict_why_gap", "predict_why_signals",
        "predict_why_signal", "predict_next_date", "predict_no_next_date", "predict_chart_title",
        "predict_chart_decile", "predict_chart_note", "predict_no_store", "predict_chart_reliability_title",
        "predict_chart_reliability_note",
        *SIGNAL_TEXTS.values(), *LABEL_TEXTS.values(), "predict_reason", "predict_reason_not_due",
        *(template_id for template_id, _ in REASON_TEXTS.values()),
    )},
}
