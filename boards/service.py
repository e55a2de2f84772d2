"""Boards: a metric per store and per guide over a period, ranked, with the change since the
period before; the guide PK scores; a member's rank and a store's figures (the chat commands)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from boards.config import LEADERBOARD, LeaderboardConf, PkConf, load_metric_modules
from boards.kinds import METRICS, Level, Metric, compute, dormant_days_of
from boards.periods import Period, to_date
from bot.deps import Deps
from customers.models import Guide, Role, Store
from tagging.config import TAG_RULES

__all__ = [
    "Row", "Board", "PkScore", "Boards", "Figure", "build_boards", "build_board", "pk_scores", "ranks_of",
    "store_by_token", "store_by_id", "store_figures",
]


@dataclass(frozen=True, slots=True)
class Row:
    key: int
    label: str
    value: float
    previous: float
    rank: int
    store_id: int | None = None

    @property
    def change(self) -> float:
        return self.value - self.previous


@dataclass(frozen=True, slots=True)
class Board:
    metric: Metric
    level: Level
    period: Period
    rows: Sequence[Row]  # best first


@dataclass(frozen=True, slots=True)
class PkScore:
    name: str
    metric: Metric
    teams: Sequence[tuple[str, float]]  # (team, running score), leader first


@dataclass(frozen=True, slots=True)
class Boards:
    period: Period
    stores: Board
    guides: Board
    pk: Sequence[PkScore]


async def _entities(level: Level) -> dict[int, tuple[str, int | None]]:
    """Every store, or every active guide and store manager: id → (label, store id)."""
    if level == "store":
        return {s.id: (s.name, s.id) for s in await Store.all().order_by("id")}
    guides = await Guide.filter(active=True, role__in=[Role.GUIDE, Role.STORE_MANAGER]).order_by("id")
    return {g.id: (g.name or g.userid, g.store_id) for g in guides}


def _ranked(metric: Metric, values: dict[int, tuple[str, int | None, float, float]]) -> list[Row]:
    sign = -1 if metric.higher_is_better else 1
    ordered = sorted(values.items(), key=lambda kv: (sign * kv[1][2], kv[1][0], kv[0]))
    rows: list[Row] = []
    for position, (key, (label, store_id, value, previous)) in enumerate(ordered, start=1):
        # Ties share a rank (1, 2, 2, 4).
        rank = rows[-1].rank if rows and rows[-1].value == value else position
        rows.append(Row(key, label, value, previous, rank, store_id))
    return rows


async def build_board(deps: Deps, metric_name: str, level: Level, period: Period) -> Board:
    metric = METRICS[metric_name]
    dormant = dormant_days_of(deps.config[TAG_RULES])
    now = await compute(metric_name, level, period.start, period.end, dormant_days=dormant)
    before = await compute(metric_name, level, period.previous_start, period.start, dormant_days=dormant)
    entities = await _entities(level)
    values = {k: (label, store, now.get(k, 0.0), before.get(k, 0.0)) for k, (label, store) in entities.items()}
    return Board(metric, level, period, _ranked(metric, values))


async def pk_scores(deps: Deps, pks: Sequence[PkConf], until: datetime) -> list[PkScore]:
    """Each PK's teams with their running score: the metric summed over members since ``since``."""
    zone = ZoneInfo(deps.settings.scrm_timezone)
    dormant = dormant_days_of(deps.config[TAG_RULES])
    scores = []
    for pk in pks:
        since = datetime.combine(pk.since, time(0), zone).astimezone(UTC)
        per_guide = await compute(pk.metric, "guide", since, until, dormant_days=dormant) if since < until else {}
        userids = {u for team in pk.teams for u in team.members}
        ids = dict(await Guide.filter(userid__in=userids).values_list("userid", "id"))
        teams = [(t.name, sum(per_guide.get(ids.get(u, -1), 0.0) for u in t.members)) for t in pk.teams]
        metric = METRICS[pk.metric]
        teams.sort(key=lambda team: -team[1] if metric.higher_is_better else team[1])
        scores.append(PkScore(pk.name, metric, teams))
    return scores


async def build_boards(deps: Deps, period: Period, conf: LeaderboardConf | None = None) -> Boards:
    conf = conf or deps.config[LEADERBOARD]
    stores = await build_board(deps, conf.metric, "store", period)
    guides = await build_board(deps, conf.metric, "guide", period)
    return Boards(period, stores, guides, await pk_scores(deps, conf.pk, period.end))



async def ranks_of(deps: Deps, level: Level, key: int, kinds: Sequence[str]) -> list[tuple[Row, Board]] | None:
    """The row of guide or store ``key`` on the configured board of each period so far (today, this
    week …), with its board; None when it is on none of them (not an active guide or manager)."""
    found = []
    for kind in kinds:
        period = to_date(kind, deps.clock.now(), deps.settings.scrm_timezone)
        board = await build_board(deps, deps.config[LEADERBOARD].metric, level, period)
        mine = next((r for r in board.rows if r.key == key), None)
        if mine is None:
            return None
        found.append((mine, board))
    return found


async def store_by_token(token: str) -> Store | None:
    """A store by its code, else the first whose name contains ``token``."""
    return await Store.get_or_none(code=token) or await Store.filter(name__icontains=token).first()


async def store_by_id(store_id: int) -> Store | None:
    return await Store.get_or_none(id=store_id)


@dataclass(frozen=True, slots=True)
class Figure:
    metric: Metric
    value: float
    previous: float

    @property
    def change(self) -> float:
        return self.value - self.previous


async def store_figures(store_id: int, period: Period) -> list[Figure]:
    """Every registered metric of one store over ``period``, with the period before."""
    load_metric_modules()
    figures = []
    for metric in METRICS.values():
        now = await compute(metric.name, "store", period.start, period.end)
        before = await compute(metric.name, "store", period.previous_start, period.start)
        figures.append(Figure(metric, now.get(store_id, 0.0), before.get(store_id, 0.0)))
    return figures
