"""Stored predictions: one row per customer (replaced nightly) and one row per nightly run."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from customers.models import Customer


class CustomerPrediction(Model):
    """What the nightly run expects of a customer who has bought before."""

    id = fields.BigIntField(primary_key=True)
    customer: fields.OneToOneRelation[Customer] = fields.OneToOneField(
        "scrm.Customer", related_name="prediction", on_delete=fields.CASCADE
    )
    customer_id: int  # the column Tortoise adds for the key above
    p_buy_30 = fields.FloatField()
    p_buy_90 = fields.FloatField()
    purchases_90 = fields.FloatField()  # expected purchase days within 90 days
    spend_90 = fields.FloatField()  # expected spend within 90 days (yuan): the customer's value
    p_alive = fields.FloatField()
    # P(alive) just after the last purchase (BG/NBD): how far it has fallen since is a churn warning.
    p_alive_peak = fields.FloatField(null=True)
    # The day a purchase becomes more likely than not; NULL: not within a year.
    next_purchase_on = fields.DateField(null=True)
    rank_pct = fields.FloatField()  # share of customers ranked above (0 = the best), by the method in use
    method = fields.CharField(max_length=16)  # the method that ranked them, chosen on the back-test (predict/choice.py)
    why: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)  # the facts behind it, for explain / demo
    computed_at = fields.DatetimeField()

    class Meta:
        table = "customer_prediction"
        indexes = (("rank_pct",),)


class PredictionRun(Model):
    """A nightly run: its back-test figures and which method it chose."""

    id = fields.IntField(primary_key=True)
    computed_at = fields.DatetimeField()
    method = fields.CharField(max_length=16)
    customers = fields.IntField()
    backtest: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)  # Evaluation.as_json(), or {"note": …}
    seconds = fields.FloatField(default=0)
    mean_spend_90 = fields.FloatField(default=0)  # the base's mean: a customer's value is measured against it

    class Meta:
        table = "prediction_run"
