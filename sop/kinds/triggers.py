"""Trigger kinds: each turns a playbook's ``trigger:`` into a SELECT of anchors. One class each.

Event triggers (customer_added, tag_entered, order_paid) anchor at an instant; a step's offset
counts from it. Dated triggers (date_field, calendar, weekly, replenishment) anchor on a local day;
calendar and weekly fall on days for everyone (``occasion``), so they can drive a moment step too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.sqldialect import Dialect, SqlParams
from sop.kinds import Fail, Window, trigger

__all__ = ["day_bounds", "Holidays"]

NULL_GUIDE = "CAST(NULL AS INTEGER)"


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants where local ``day`` starts and ends."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def epoch_text(dialect: Dialect, column: str) -> str:
    if dialect.name == "postgres":
        return f"CAST(CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT) AS TEXT)"
    return f"strftime('%s', {column})"


def _text(params: Mapping[str, Any], name: str, fail: Fail) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise fail(f"trigger needs `{name}` (text)")
    return value.strip()


def _names(params: Mapping[str, Any], name: str, fail: Fail) -> tuple[str, ...]:
    value = params.get(name, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(f"`{name}` must be a list of names")
    return tuple(value)


@trigger("customer_added")
class CustomerAdded:
    """A guide and a customer became contacts (the relation's add time)."""

    dated = False

    def check(self, params: Mapping[str, Any], fail: Fail, context: Mapping[str, Any]) -> None:
        return None

    def anchors(self, params: None, window: Window, sql: SqlParams) -> str:
        occurrence = f"CAST(r.id AS TEXT) || '@' || {epoch_text(sql.dialect, 'r.created_at')}"
        return (
            f"SELECT r.customer_id, r.guide_id, {occurrence} AS occurrence, r.created_at AS anchor_at, "
            f"'' AS detail FROM relationship r WHERE r.half = FALSE "
            f"AND {window.covers('r.created_at', sql)}"
        )


@trigger("tag_entered")
class TagEntered:
    """A customer entered a tag (e.g. 沉睡 from the lifecycle rule); the row's creation is the entry."""

    dated = False

    def check(self, params: Mapping[str, Any], fail: Fail, context: Mapping[str, Any]) -> str:
        return _text(params, "tag", fail)

    def anchors(self, params: str, window: Window, sql: SqlParams) -> str:
        return (
            "SELECT ct.customer_id, ct.guide_id, CAST(ct.id AS TEXT) AS occurrence, ct.created_at AS anchor_at, "
            "t.name AS detail FROM customer_tag ct JOIN tag t ON t.id = ct.tag_id "
            f"WHERE t.name = {sql.add(params)} AND ct.removed = FALSE "
            f"AND {window.covers('ct.created_at', sql)}"
        )


@trigger("order_paid")
class OrderPaid:
    """An order was paid (optionally at least ``min_amount`` yuan)."""

    dated = False

    def check(self, params: Mapping[str, Any], fail: Fail, context: Mapping[str, Any]) -> Decimal:
        try:
            return Decimal(str(params.get("min_amount", 0)))
        except InvalidOperation:
            raise fail("min_amount must be a number") from None

    def anchors(self, params: Decimal, window: Window, sql: SqlParams) -> str:
        amount = f" AND {sql.dialect.number('o.amount')} >= {sql.add(float(params))}" if params else ""
        return (
            f"SELECT o.customer_id, {NULL_GUIDE} AS guide_id, o.order_id AS occurrence, o.paid_at AS anchor_at, "
            f"'' AS detail FROM orders o WHERE o.customer_id IS NOT NULL "
            f"AND {window.covers('o.paid_at', sql)}{amount}"
        )


DATE_FIELDS = ("birthday", "first_purchase")


@trigger("date_field")
class DateField:
    """A yearly date of the customer: ``field: birthday`` or ``first_purchase`` (its anniversary)."""

    dated = True

    def check(self, params: Mapping[str, Any], fail: Fail, context: Mapping[str, Any]) -> str:
        field = _text(params, "field", fail)
        if field not in DATE_FIELDS:
            raise fail(f"field must be one of {', '.join(DATE_FIELDS)}, not {field!r}")
        return field

    def anchors(self, params: str, window: Window, sql: SqlParams) -> str:
        start, _end = day_bounds(window.day, window.tz)
        month_day = f"{window.day:%m-%d}"
        pg = sql.dialect.name == "postgres"
        if params == "birthday":
            column = "to_char(c.birthday, 'MM-DD')" if pg else "strftime('%m-%d', c.birthday)"
            extra = "c.birthday IS NOT NULL"
        else:
            if pg:
                column = f"to_char(c.first_purchase_at AT TIME ZONE {sql.add(window.tz)}, 'MM-DD')"
            else:
                offset = ZoneInfo(window.tz).utcoffset(datetime.combine(window.day, time(12)))
                minutes = int(offset.total_seconds() // 60) if offset else 0
                column = f"strftime('%m-%d', c.first_purchase_at, {sql.add(f'{minutes:+d} minutes')})"
            extra = f"c.first_purchase_at < {sql.add(start - timedelta(days=300))}"
        occurrence = sql.add(f"{params}:{window.day.isoformat()}")
        return (
            f"SELECT c.id AS customer_id, {NULL_GUIDE} AS guide_id, {occurrence} AS occurrence, "
            f"'' AS detail FROM customer c WHERE {extra} AND {column} = {sql.add(month_day)}"
        )


@dataclass(frozen=True, slots=True)
class Holidays:
    """Holiday name → its dates (config/holidays.yaml, shipped for the coming years, editable)."""

    dates: Mapping[str, tuple[date, ...]]

    def on(self, day: date, names: tuple[str, ...]) -> str | None:
        for name in names or tuple(self.dates):
            if day in self.dates.get(name, ()):
                return name
        return None


@trigger("calendar")
class Calendar:
    """A holiday from the holiday list (``holidays: [春节, 中秋]``; none listed = every holiday)."""

    dated = True

    def check(
        self, params: Mapping[str, Any], fail: Fail, context: Mapping[str, Any]
    ) -> tuple[Holidays, tuple[str, ...]]:
        holidays: Holidays = context["holidays"]
        names = _names(params, "holidays", fail)
        unknown = [n for n in names if n not in holidays.dates]
        if unknown:
            raise fail(f"unknown holiday(s) {unknown}; known: {', '.join(holidays.dates)}")
        return holidays, names

    def occasion(self, params: tuple[Holidays, tuple[str, ...]], day: date) -> str | None:
        holidays, names = params
        return holidays.on(day, names)

    def anchors(self, params: tuple[Holidays, tuple[str, ...]], window: Window, sql: SqlParams) -> str | None:
        name = self.occasion(params, window.day)
        if name is None:
            return None
        return (
            f"SELECT c.id AS customer_id, {NULL_GUIDE} AS guide_id, {sql.add(f'{name}:{window.day.isoformat()}')} "
            f"AS occurrence, {sql.add(name)} AS detail FROM customer c"
        )


WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@trigger("weekly")
class Weekly:
    """Every week on the given days (``weekdays: [周一]``; 周一 … 周日), for everyone: e.g. a moment of the
    week's new arrivals (上新) each Monday."""

    dated = True

    def check(self, params: Mapping[str, Any], fail: Fail, context: Mapping[str, Any]) -> frozenset[int]:
        names = _names(params, "weekdays", fail)
        unknown = [n for n in names if n not in WEEKDAYS]
        if not names or unknown:
            raise fail(f"weekdays must name days of the week ({', '.join(WEEKDAYS)}), not {unknown or names}")
        return frozenset(WEEKDAYS.index(n) + 1 for n in names)

    def occasion(self, params: frozenset[int], day: date) -> str | None:
        return WEEKDAYS[day.isoweekday() - 1] if day.isoweekday() in params else None

    def anchors(self, params: frozenset[int], window: Window, sql: SqlParams) -> str | None:
        name = self.occasion(params, window.day)
        if name is None:
            return None
        return (
            f"SELECT c.id AS customer_id, {NULL_GUIDE} AS guide_id, {sql.add(f'week:{window.day.isoformat()}')} "
            f"AS occurrence, {sql.add(name)} AS detail FROM customer c"
        )


@dataclass(frozen=True, slots=True)
class Cycle:
    kind: str  # "category" or "product"
    key: str
    days: int


@trigger("replenishment")
class Replenishment:
    """Days since the last purchase of a product (or category) reach its usage cycle minus ``lead_days``.

    ``cycles: {category: {面霜: 60}, product: {SKU-1: 30}}`` — the anchor is the day the customer
    should be reminded; the last order of that product is the occurrence.
    """

    dated = True

    def check(self, params: Mapping[str, Any], fail: Fail, context: Mapping[str, Any]) -> tuple[Cycle, ...]:
        lead = params.get("lead_days", 7)
        if not isinstance(lead, int) or lead < 0:
            raise fail("lead_days must be a whole number of days >= 0")
        cycles_in = params.get("cycles")
        if not isinstance(cycles_in, dict) or not set(cycles_in) - {"__line__"}:
            raise fail("replenishment needs cycles: {category: {名称: 天数}, product: {…}}")
        cycles: list[Cycle] = []
        for kind, entries in cycles_in.items():
            if kind == "__line__":
                continue
            if kind not in ("category", "product") or not isinstance(entries, dict):
                raise fail(f"cycles has `category` and/or `product` mappings, not {kind!r}")
            for key, days in entries.items():
                if key == "__line__":
                    continue
                if not isinstance(days, int) or days <= lead:
                    raise fail(f"cycle of {key!r} must be a whole number of days > lead_days ({lead})")
                cycles.append(Cycle(kind, str(key), days - lead))
        return tuple(cycles)

    def anchors(self, params: tuple[Cycle, ...], window: Window, sql: SqlParams) -> str:
        parts = []
        for cycle in params:
            start, end = day_bounds(window.day - timedelta(days=cycle.days), window.tz)
            column = "i.category" if cycle.kind == "category" else "i.product_id"
            later_column = column.replace("i.", "i2.")
            key = sql.add(cycle.key)
            name = "i.category" if cycle.kind == "category" else "i.product_name"
            parts.append(
                f"SELECT o.customer_id, {NULL_GUIDE} AS guide_id, "
                f"{sql.add(cycle.key + ':')} || o.order_id AS occurrence, "
                f"o.paid_at AS anchor_at, {name} AS detail FROM orders o JOIN order_item i ON i.order_id = o.id "
                f"WHERE o.customer_id IS NOT NULL AND o.paid_at >= {sql.add(start)} AND o.paid_at < {sql.add(end)} "
                f"AND {column} = {key} AND NOT EXISTS (SELECT 1 FROM orders o2 "
                "JOIN order_item i2 ON i2.order_id = o2.id "
                f"WHERE o2.customer_id = o.customer_id AND o2.paid_at > o.paid_at AND {later_column} = {key})"
            )
        return " UNION ALL ".join(parts)
