"""Group figures: WeCom's daily statistics per owner (``groupchat/statistic``, ≤ 100 owners a call),
the joins each code brought, and the pushes — per store and per owner, for ``scrm groups report``,
the board metrics and the store manager's daily line.

From WeCom, per day: new groups, groups, groups with messages, new members, members, members who
spoke, messages. A period sums the daily counts; "groups" and "members" are the period's last day.
A store's figures are its members' groups; the joins through a code count for the code's store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog

from boards.kinds import MetricQuery, metric
from bot.deps import Deps
from bot.outbox import send_once_or_skip
from bot.templates import Templates
from customers.models import GroupChat, Guide, Role, Store
from groups import wecomapi
from groups.models import GroupDailyStat, GroupJoin, GroupPush

__all__ = ["TEMPLATES", "GroupFigures", "daily_lines", "format_report", "group_active_rate", "group_figures",
           "group_new_members", "sync_stats", "sync_yesterday"]

log = structlog.get_logger(__name__)

TEMPLATES = ("group_report_line", "group_daily_line", "group_report_none")
OWNERS_PER_CALL = 100
_COUNTS = ("new_chat_cnt", "chat_has_msg", "new_member_cnt", "member_has_msg", "msg_total")
_LEVELS = ("chat_total", "member_total")


@dataclass(slots=True)
class GroupFigures:
    level: str  # store / owner
    key: str  # the store's code, the owner's userid
    name: str
    new_groups: int = 0
    groups: int = 0
    groups_with_messages: int = 0
    new_members: int = 0
    members: int = 0
    members_who_spoke: int = 0
    messages: int = 0
    joins_by_code: int = 0
    pushes: int = 0
    pushes_sent: int = 0
    groups_reached: int = 0

    @property
    def active_rate(self) -> float:
        """Groups with messages per group-day: the share of groups that talked on an average day."""
        return self.groups_with_messages / self._group_days if self._group_days else 0.0

    _group_days: int = 0

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("_group_days")
        return data | {"active_rate": round(self.active_rate, 4)}


def _day_start(day: date, tz: str) -> int:
    return int(datetime.combine(day, time(0), ZoneInfo(tz)).timestamp())


async def sync_stats(deps: Deps, day: date) -> int:
    """One local day's statistics for every owner of a group we know, kept per owner; rows written."""
    owners = sorted({str(o) for o in await GroupChat.all().distinct().values_list("owner_userid", flat=True) if o})
    written = 0
    start = _day_start(day, deps.settings.scrm_timezone)
    for first in range(0, len(owners), OWNERS_PER_CALL):
        for item in await wecomapi.statistic(deps, start, owners[first:first + OWNERS_PER_CALL]):
            data = item.get("data", {})
            values = {name: int(data.get(name, 0) or 0) for name in (*_COUNTS, *_LEVELS)}
            await GroupDailyStat.update_or_create(day=day, owner_userid=str(item.get("owner", "")), defaults=values)
            written += 1
    log.info("group_stats_synced", day=day.isoformat(), owners=len(owners), rows=written)
    return written


class _Tally:
    """The rows being summed: one per owner, one per store (an owner's rows count for their store too)."""

    def __init__(self, guides: dict[str, Guide]) -> None:
        self.guides = guides
        self.owners: dict[str, GroupFigures] = {}
        self.stores: dict[str, GroupFigures] = {}

    def rows(self, owner: str) -> list[GroupFigures]:
        guide = self.guides.get(owner)
        if owner not in self.owners:
            self.owners[owner] = GroupFigures("owner", owner, guide.name if guide else owner)
        rows = [self.owners[owner]]
        if guide is not None and guide.store is not None:
            rows.append(self.store(guide.store))
        return rows

    def store(self, store: Store) -> GroupFigures:
        return self.stores.setdefault(store.code, GroupFigures("store", store.code, store.name))

    def add_stats(self, stats: list[GroupDailyStat]) -> None:
        last_day: dict[str, date] = {}
        for stat in stats:
            for row in self.rows(stat.owner_userid):
                row.new_groups += stat.new_chat_cnt
                row.groups_with_messages += stat.chat_has_msg
                row.new_members += stat.new_member_cnt
                row.members_who_spoke += stat.member_has_msg
                row.messages += stat.msg_total
                row._group_days += stat.chat_total
            last_day[stat.owner_userid] = max(stat.day, last_day.get(stat.owner_userid, stat.day))
        for stat in stats:
            if last_day[stat.owner_userid] == stat.day:  # groups and members: the period's last day
                for row in self.rows(stat.owner_userid):
                    row.groups += stat.chat_total
                    row.members += stat.member_total


async def group_figures(since: date, until: date, tz: str) -> tuple[list[GroupFigures], list[GroupFigures]]:
    """(per store, per owner) over the local days ``[since, until]``."""
    tally = _Tally({g.userid: g for g in await Guide.all().prefetch_related("store")})
    tally.add_stats(list(await GroupDailyStat.filter(day__gte=since, day__lte=until).order_by("day")))
    zone = ZoneInfo(tz)
    start = datetime.combine(since, time(0), zone).astimezone(UTC)
    end = datetime.combine(until + timedelta(days=1), time(0), zone).astimezone(UTC)
    store_of = {store.id: store for store in await Store.all()}
    for join in await GroupJoin.filter(joined_at__gte=start, joined_at__lt=end, code_id__not_isnull=True):
        if join.owner_userid:
            tally.rows(join.owner_userid)[0].joins_by_code += 1
        store = store_of.get(join.store_id or 0)
        if store is not None:
            tally.store(store).joins_by_code += 1
    for push in await GroupPush.filter(created_at__gte=start, created_at__lt=end):
        for row in tally.rows(push.owner_userid):
            row.pushes += 1
            row.pushes_sent += push.sent_at is not None
            row.groups_reached += push.sent_chats
    return sorted(tally.stores.values(), key=lambda r: r.key), sorted(tally.owners.values(), key=lambda r: r.key)


async def sync_yesterday(deps: Deps) -> int:
    """The daily job: yesterday's statistics from WeCom, then each store manager's line about them."""
    yesterday = deps.clock.now().astimezone(ZoneInfo(deps.settings.scrm_timezone)).date() - timedelta(days=1)
    await sync_stats(deps, yesterday)
    return await daily_lines(deps, yesterday)


def format_report(templates: Templates, rows: list[GroupFigures]) -> list[str]:
    if not rows:
        return [templates.render("group_report_none")]
    return [templates.render("group_report_line", name=f"{row.name}（{row.key}）", groups=row.groups,
                             count=row.new_groups, members=row.members, joins=row.new_members,
                             total=row.joins_by_code, rate=f"{row.active_rate:.0%}", sent=row.pushes_sent,
                             pushes=row.pushes, detail=row.groups_reached, text=row.messages)
            for row in rows]


async def daily_lines(deps: Deps, day: date) -> int:
    """Each store manager's line about yesterday's groups; the number sent (once per manager and day)."""
    stores, _ = await group_figures(day, day, deps.settings.scrm_timezone)
    by_store = {row.key: row for row in stores}
    sent = 0
    for manager in await Guide.filter(role=Role.STORE_MANAGER, active=True).prefetch_related("store"):
        row = by_store.get(manager.store.code) if manager.store else None
        if row is None:
            continue
        text = deps.config.templates.render(
            "group_daily_line", date=day.isoformat(), store=row.name, count=row.new_groups, groups=row.groups,
            joins=row.new_members, total=row.joins_by_code, rate=f"{row.active_rate:.0%}",
            members=row.members_who_spoke, text=row.messages)

        async def send(userid: str = manager.userid, content: str = text) -> None:
            await deps.wecom.send_text([userid], content)

        sent += await send_once_or_skip(f"gdaily:{day.isoformat()}:{manager.userid}", "group_daily",
                                        manager.userid, send, deps.clock)
    return sent


# --- board metrics ---------------------------------------------------------------------------------------


@metric("group_new_members", label="群新增成员")
def group_new_members(q: MetricQuery) -> str:
    """Customers who joined a group through a group code: the code's store, the group's owner."""
    if q.level == "store":
        return (f"SELECT j.store_id AS k, COUNT(*) AS v FROM group_join j "  # noqa: S608 - bound parameters
                f"WHERE j.joined_at >= {q.start} AND j.joined_at < {q.end} AND j.store_id IS NOT NULL "
                f"GROUP BY j.store_id")
    return (f"SELECT g.id AS k, COUNT(*) AS v FROM group_join j JOIN guide g ON g.userid = j.owner_userid "  # noqa: S608
            f"WHERE j.joined_at >= {q.start} AND j.joined_at < {q.end} GROUP BY g.id")


@metric("group_active_rate", label="活跃群占比", percent=True)
def group_active_rate(q: MetricQuery) -> str:
    """Groups with messages per group-day, from WeCom's daily statistics of the owners' groups."""
    return (f"SELECT {q.key} AS k, CAST(SUM(s.chat_has_msg) AS FLOAT) / SUM(s.chat_total) AS v "  # noqa: S608
            f"FROM group_daily_stat s JOIN guide g ON g.userid = s.owner_userid "
            f"WHERE s.day >= {_local_day(q, q.start)} AND s.day < {_local_day(q, q.end)} "
            f"GROUP BY {q.key} HAVING SUM(s.chat_total) > 0")


def _local_day(q: MetricQuery, bound: str) -> str:
    """The statistics are by local day; a period starts at a local midnight, bound as a UTC instant.
    Twelve hours on, the UTC date is that local day for any zone within ±12 h of UTC."""
    if q.dialect.name == "postgres":
        return f"CAST(CAST({bound} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' + INTERVAL '12 hours' AS DATE)"
    return f"date({bound}, '+12 hours')"
