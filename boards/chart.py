"""The leaderboard chart: a PNG bar chart with Chinese labels in a real CJK font (never boxes).

The font is a file the project installs: ``SCRM_CHART_FONT`` if set, else WenQuanYi Micro Hei
from the ``paperang-p2-fonts-cjk`` package (a dependency), else Noto Sans CJK from the system
(the Dockerfile installs fonts-noto-cjk). No font with the glyphs, no chart: an error, not tofu.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from boards.report import number
from boards.service import Board, Row

__all__ = ["ChartFontMissing", "chart_font_path", "render_chart", "has_glyphs"]

_SYSTEM_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
_PROBE = "排行榜门店导购新增客户"
_WIDTH, _BAR_H, _GAP, _LEFT, _TOP = 900, 30, 10, 220, 70
_COLORS = {"good": (46, 125, 218), "bad": (229, 115, 87), "axis": (90, 90, 90), "text": (30, 30, 30)}


class ChartFontMissing(RuntimeError):
    """No CJK font found: Chinese labels would be boxes."""


def _packaged_font() -> Path | None:
    try:
        root = resources.files("paperang_p2_fonts_cjk")
    except ModuleNotFoundError:
        return None
    path = Path(str(root)) / "fonts" / "wqy-microhei.ttc"
    return path if path.is_file() else None


@lru_cache(maxsize=8)
def has_glyphs(font_path: str, text: str) -> bool:
    """True when the font draws every character of ``text`` with a glyph of its own, not its
    .notdef box (what a private-use code point, which no font maps, renders as)."""
    font = ImageFont.truetype(font_path, 24)

    def shape(char: str) -> tuple[bytes, tuple[int, int]]:
        mask = font.getmask(char)
        return bytes(mask), mask.size

    tofu = shape("\U000f0000")
    return all(shape(char) != tofu for char in set(text) if not char.isspace())


def chart_font_path(configured: str = "") -> str:
    """The CJK font file charts use (see the module docstring for the order)."""
    candidates = [Path(configured)] if configured else []
    packaged = _packaged_font()
    if packaged is not None:
        candidates.append(packaged)
    candidates += [Path(p) for p in _SYSTEM_FONTS]
    for path in candidates:
        if path.is_file() and has_glyphs(str(path), _PROBE):
            return str(path)
    raise ChartFontMissing(
        "no CJK font for charts: install the project (paperang-p2-fonts-cjk) or fonts-noto-cjk, or set SCRM_CHART_FONT"
    )


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def render_chart(board: Board, title: str, font_path: str, *, limit: int = 15, empty: str = "") -> bytes:
    """A horizontal bar chart of the board's best ``limit`` rows as PNG bytes (CPU work: run in a thread);
    ``empty`` is written on a board without rows."""
    rows: Sequence[Row] = list(board.rows)[:limit]
    height = _TOP + max(1, len(rows)) * (_BAR_H + _GAP) + 40
    image = Image.new("RGB", (_WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.truetype(font_path, 26)
    font = ImageFont.truetype(font_path, 18)
    draw.text((20, 18), title, font=title_font, fill=_COLORS["text"])
    peak = max((abs(r.value) for r in rows), default=0.0) or 1.0
    span = _WIDTH - _LEFT - 120
    for index, row in enumerate(rows):
        y = _TOP + index * (_BAR_H + _GAP)
        label = _fit(draw, f"{row.rank}. {row.label}", font, _LEFT - 30)
        draw.text((20, y + 4), label, font=font, fill=_COLORS["text"])
        length = int(span * abs(row.value) / peak)
        good = (row.value >= 0) == board.metric.higher_is_better
        draw.rectangle((_LEFT, y, _LEFT + max(length, 2), y + _BAR_H), fill=_COLORS["good" if good else "bad"])
        draw.text((_LEFT + length + 10, y + 4), number(board.metric, row.value), font=font, fill=_COLORS["text"])
    draw.line((_LEFT, _TOP - 6, _LEFT, height - 30), fill=_COLORS["axis"], width=2)
    if not rows and empty:  # what an empty board says (a template: board_chart_empty)
        draw.text((_LEFT + 10, _TOP + 4), empty, font=font, fill=_COLORS["axis"])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
