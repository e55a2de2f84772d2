"""``POST /intake/members``: the brand's systems send member rows through the signed intake
(bot/intake.py), checked like orders: a bad item is rejected with its index and reason, the rest queued.

What needs the database (an unknown store, a guide of another store) is checked when the worker imports
the item; such a row is logged (phone masked) and counted, never half-imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from acquisition.service import RowRejected, parse_row
from bot.intake import IntakeKind, ItemRejected, intake_handler

if TYPE_CHECKING:
    from aiohttp import web

    from config.settings import Settings

__all__ = ["MEMBERS", "add_routes"]


def validate_member(item: Mapping[str, Any], now: datetime) -> tuple[str, dict[str, Any]]:
    try:
        row = parse_row(item)
    except RowRejected as err:
        raise ItemRejected(str(err)) from None
    body = {"member_id": row.member_id, "phone": row.phone, "name": row.name, "store": row.store,
            "guide": row.guide, "unionid": row.unionid}
    # The same row sent again is a duplicate; a changed row for the same member goes through.
    return f"{row.member_id}:{row.digest}", body


MEMBERS = IntakeKind("member", "members", validate_member)


def add_routes(app: web.Application, settings: Settings) -> None:
    """The members intake endpoint and the nearest-store pages, added from the feature table."""
    from acquisition.page import add_page_routes

    app.router.add_post("/intake/members", intake_handler(MEMBERS))
    add_page_routes(app)
