"""The prediction's texts: every template id ``predict/`` renders, with its kind.

The words live in config/templates.yaml (the 客户 profile, the sidebar card, HQ's chart and report); the
feature names ``TEMPLATES`` (predict/__init__.py), so a templates file without one of them, or with one
of another kind, stops the start naming the id rather than a guide's profile failing later.
"""

from __future__ import annotations

__all__ = ["LABEL_TEXTS", "METHOD_TEXTS", "SIGNAL_TEXTS", "TEMPLATES"]

# The counted signals of the last 30 days (predict/features.py's names) → the word a guide reads.
SIGNAL_TEXTS = {
    "browse_30d": "predict_signal_browse", "add_to_cart_30d": "predict_signal_add_to_cart",
    "checkout_started_30d": "predict_signal_checkout_started", "coupon_claimed_30d": "predict_signal_coupon_claimed",
    "coupon_redeemed_30d": "predict_signal_coupon_redeemed", "link_open_30d": "predict_signal_link_open",
    "chat_30d": "predict_signal_chat", "chat_intent_30d": "predict_signal_chat_intent",
}
# What ranks customers (CustomerPrediction.method) as the profile says it.
METHOD_TEXTS = {"model": "predict_method_model", "rfm": "predict_method_rfm"}
# Each back-tested method's name on HQ's chart (predict/backtest.py's METHODS).
LABEL_TEXTS = {
    "model": "predict_label_model", "bgnbd": "predict_label_bgnbd", "rfm": "predict_label_rfm",
    "recency": "predict_label_recency", "lifecycle": "predict_label_lifecycle",
}
# Every id with its kind (bot/templates.py's TEMPLATE_KINDS).
TEMPLATES: dict[str, str] = {
    "predict_profile": "prediction",
    **{template_id: "prediction_text" for template_id in (
        "predict_why_recency", "predict_why_count", "predict_why_value", "predict_why_gap", "predict_why_signals",
        "predict_why_signal", "predict_next_date", "predict_no_next_date", "predict_chart_title",
        "predict_chart_decile", "predict_chart_note", "predict_no_store",
        *SIGNAL_TEXTS.values(), *METHOD_TEXTS.values(), *LABEL_TEXTS.values(),
    )},
}
