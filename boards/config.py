"""config/leaderboard.yaml: the metric boards rank by, how many rows, the chart, and the guide PKs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bot.appconfig import ConfigKey
from bot.configfiles import ConfigError, Reader, load_yaml
from bot.feature import load_features

__all__ = ["LEADERBOARD", "LeaderboardConf", "PkConf", "TeamConf", "load", "load_leaderboard", "load_metric_modules"]


@dataclass(frozen=True, slots=True)
class TeamConf:
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PkConf:
    name: str
    metric: str
    since: date
    teams: tuple[TeamConf, ...]


@dataclass(frozen=True, slots=True)
class LeaderboardConf:
    metric: str = "net_growth"
    top: int = 10
    bottom: int = 5
    chart: str = "store"  # bar chart by store or by guide
    pk: Sequence[PkConf] = ()


def load_metric_modules() -> None:
    """Every feature loaded (bot/feature.py): each board metric (``@metric``) is registered."""
    load_features()


def _metric(reader: Reader, item: Any, value: Any) -> str:
    from boards.kinds import METRICS

    if value not in METRICS:
        raise reader.fail(item, str(METRICS.unknown(str(value))))
    return str(value)


def _count(reader: Reader, item: dict[str, Any], name: str, default: int) -> int:
    value = item.get(name, default)
    if not isinstance(value, int) or not 0 <= value <= 50:
        raise reader.fail(item, f"{name} must be a whole number from 0 to 50")
    return value


def load_leaderboard(path: Path) -> LeaderboardConf:
    load_metric_modules()
    if not path.exists():
        return LeaderboardConf()
    reader = Reader(path)
    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected `board:` and `pk:`")
    board = data.get("board") or {}
    if not isinstance(board, dict):
        raise ConfigError(f"{path}: board must be a mapping")
    chart = board.get("chart", "store")
    if chart not in ("store", "guide"):
        raise reader.fail(board, "chart must be store or guide")
    pks: list[PkConf] = []
    for item in data.get("pk") or []:
        if not isinstance(item, dict) or not item.get("name"):
            raise reader.fail(item, "a PK needs a name")
        since = item.get("since")
        if not isinstance(since, date):
            raise reader.fail(item, f"PK {item['name']!r}: since must be a date (2026-11-01)")
        teams = []
        for team in item.get("teams") or []:
            members = team.get("members") if isinstance(team, dict) else None
            if not isinstance(members, list) or not members or not team.get("name"):
                raise reader.fail(team, "a team needs a name and members (userids)")
            teams.append(TeamConf(str(team["name"]), tuple(str(m) for m in members)))
        if len(teams) < 2:
            raise reader.fail(item, f"PK {item['name']!r} needs at least two teams")
        pks.append(PkConf(str(item["name"]), _metric(reader, item, item.get("metric", "new_customers")), since,
                          tuple(teams)))
    return LeaderboardConf(
        metric=_metric(reader, board, board.get("metric", "net_growth")),
        top=_count(reader, board, "top", 10),
        bottom=_count(reader, board, "bottom", 5),
        chart=str(chart),
        pk=tuple(pks),
    )


def load(config_dir: Path, loaded: Mapping[str, Any]) -> LeaderboardConf:
    """The feature's config loader (bot/feature.py): config/leaderboard.yaml."""
    return load_leaderboard(config_dir / "leaderboard.yaml")


LEADERBOARD = ConfigKey("leaderboard", LeaderboardConf)  # deps.config[LEADERBOARD]
