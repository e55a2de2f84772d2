"""The boards' report: boards as WeCom markdown, within a byte budget (4096 for a group robot, 2048
for an app message). The bar chart is its own part (boards/chart.py: Pillow and the CJK font).

However many guides there are, the message shows the top and the bottom of each board, with an
arrow for the change since the period before, and the PK scores; rows are dropped (never the
header or the PK) until it fits.
"""

from __future__ import annotations

from collections.abc import Sequence

from boards.kinds import Metric
from boards.service import Board, Boards, PkScore, Row
from bot.templates import Templates
from bot.wecom import limits
from bot.wecom.markdown import plain

# The period names (boards/periods.py ``Period.template_id``); boards/delivery.py names them too.
TEMPLATES = ("board_period_daily", "board_period_weekly", "board_period_monthly")

__all__ = ["TEMPLATES", "render_boards", "render_guides_of_store", "number", "arrow", "ROBOT_MARKDOWN_BYTES",
           "APP_MARKDOWN_BYTES"]

ROBOT_MARKDOWN_BYTES = 4096
APP_MARKDOWN_BYTES = 2048
_MAX_LABEL = 16


def number(metric: Metric, value: float) -> str:
    if metric.percent:
        return f"{value * 100:.0f}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def arrow(metric: Metric, change: float) -> str:
    if change == 0:
        return "→"
    good = (change > 0) == metric.higher_is_better
    sign = "↑" if change > 0 else "↓"
    color = "info" if good else "warning"
    shown = f"{abs(change) * 100:.0f}%" if metric.percent else number(metric, abs(change))
    return f'<font color="{color}">{sign}{shown}</font>'


def _label(text: str) -> str:
    """A member, store or team name as it reads, never as markup (a name like ``**x**`` stays literal)."""
    return plain(text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…")


def _row(board: Board, row: Row) -> str:
    return f"{row.rank}. {_label(row.label)} **{number(board.metric, row.value)}** {arrow(board.metric, row.change)}"


def _section(templates: Templates, title: str, board: Board, top: int, bottom: int) -> list[str]:
    rows = list(board.rows)
    if not rows:
        return []
    lines = [templates.render(title)]
    if len(rows) <= top + bottom:
        return lines + [_row(board, r) for r in rows]
    lines += [_row(board, r) for r in rows[:top]]
    if bottom:
        lines.append(templates.render("board_bottom", total=len(rows)))
        lines += [_row(board, r) for r in rows[-bottom:]]
    return lines


def _pk_lines(templates: Templates, pks: Sequence[PkScore]) -> list[str]:
    lines = []
    for pk in pks:
        score = " : ".join(f"{_label(team)} **{number(pk.metric, value)}**" for team, value in pk.teams)
        lines.append(templates.render("board_pk_line", name=_label(pk.name), metric=pk.metric.label, score=score))
    return lines


def _fit(parts: list[list[str]], budget: int) -> str | None:
    text = "\n".join(line for part in parts for line in part)
    return text if len(text.encode()) <= budget else None


def render_boards(
    templates: Templates, boards: Boards, *, top: int = 10, bottom: int = 5, budget: int = ROBOT_MARKDOWN_BYTES
) -> str:
    """The HQ message: title, stores, guides (top and bottom), PK scores; always within ``budget``."""
    period = boards.period
    name = templates.render(period.template_id)
    header = templates.render(
        "board_title", period=name, dates=period.label(), metric=boards.guides.metric.label
    ).splitlines()
    footer = templates.render("board_footer", period=name).splitlines()
    pk = _pk_lines(templates, boards.pk)
    store_top, store_bottom = top, bottom
    while True:
        parts = [
            header,
            _section(templates, "board_section_stores", boards.stores, store_top, store_bottom),
            _section(templates, "board_section_guides", boards.guides, top, bottom),
            [templates.render("board_pk_title")] + pk if pk else [],
            footer,
        ]
        fitted = _fit(parts, budget)
        if fitted is not None:
            return fitted
        # Shrink the longer lists first; at worst only the header, the podium and the PK remain.
        if store_top + store_bottom > 4:
            store_top, store_bottom = max(2, store_top - 1), max(1, store_bottom - 1) if store_bottom else 0
        elif top + bottom > 3:
            top, bottom = max(3, top - 1), max(0, bottom - 1)
        else:
            text = "\n".join(line for part in parts for line in part)
            return limits.fit(text, budget)


def render_guides_of_store(templates: Templates, boards: Boards, store_id: int, store_name: str,
                           *, budget: int = APP_MARKDOWN_BYTES) -> str:
    """A store manager's board: their store's rank and every guide of the store."""
    period = boards.period
    header = templates.render(
        "board_store_title", period=templates.render(period.template_id), dates=period.label(),
        metric=boards.guides.metric.label, store=plain(store_name),
    ).splitlines()
    mine = [r for r in boards.stores.rows if r.key == store_id]
    lines = list(header)
    if mine:
        metric = boards.stores.metric
        lines.append(templates.render("board_store_rank", rank=mine[0].rank, total=len(boards.stores.rows),
                                      value=number(metric, mine[0].value), change=arrow(metric, mine[0].change)))
    board = boards.guides
    guides = [r for r in board.rows if r.store_id == store_id]
    lines += [_row(board, r) for r in guides] or [templates.render("board_store_no_guides")]
    text = "\n".join(lines)
    while len(text.encode()) > budget and len(lines) > len(header) + 1:
        lines.pop()
        text = "\n".join(lines)
    return text
