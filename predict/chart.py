"""The back-test's chart (PNG, Chinese labels): share of buyers in each tenth of customers per method, and below
it the reliability plot of the calibrated P(buy) (predicted against observed, by tenths; on the diagonal = honest).

Drawn with Pillow and the leaderboard's CJK font (``boards.chart.chart_font_path``); the words come in
``ChartWords``, rendered from the templates by the caller (predict/cli.py).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

__all__ = ["ChartWords", "render_deciles", "render_chart"]

_W, _H, _LEFT, _TOP, _BOTTOM = 1000, 560, 80, 90, 80
_COLORS = [(46, 125, 218), (72, 170, 110), (240, 160, 40), (150, 110, 200), (229, 115, 87), (60, 60, 60)]


@dataclass(frozen=True, slots=True)
class ChartWords:
    title: str
    note: str  # under the bars: how to read them
    labels: Mapping[str, str]  # method → its name
    deciles: Sequence[str]  # the ten groups' names, best-scored first
    reliability_title: str = ""
    reliability_note: str = ""  # under the plot: how to read it


def render_chart(deciles: Mapping[str, Sequence[float]], reliability: Sequence[Mapping[str, float]],
                 words: ChartWords, font_path: str) -> bytes:
    """The decile bars above the reliability plot, one PNG."""
    top = _deciles_image(deciles, words, font_path)
    bottom = _reliability_image(reliability, words, font_path)
    image = Image.new("RGB", (_W, top.height + bottom.height), "white")
    image.paste(top, (0, 0))
    image.paste(bottom, (0, top.height))
    return _png(image)


def render_deciles(deciles: Mapping[str, Sequence[float]], words: ChartWords, font_path: str) -> bytes:
    return _png(_deciles_image(deciles, words, font_path))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _reliability_image(rows: Sequence[Mapping[str, float]], words: ChartWords, font_path: str) -> Image.Image:
    """Each tenth of customers by calibrated P(buy) as a point (predicted, observed), with the diagonal."""
    size, left, top = 420, _LEFT, 70
    image = Image.new("RGB", (_W, size + top + 70), "white")
    draw = ImageDraw.Draw(image)
    title_font, font = ImageFont.truetype(font_path, 22), ImageFont.truetype(font_path, 15)
    draw.text((20, 16), words.reliability_title, font=title_font, fill=(30, 30, 30))

    def at(predicted: float, observed: float) -> tuple[float, float]:
        return left + size * predicted, top + size - size * observed

    for tick in range(6):
        share = tick / 5
        x, y = at(share, share)
        draw.line((left, y, left + size, y), fill=(225, 225, 225))
        draw.line((x, top, x, top + size), fill=(225, 225, 225))
        draw.text((left - 48, y - 9), f"{share:.0%}", font=font, fill=(90, 90, 90))
        draw.text((x - 14, top + size + 6), f"{share:.0%}", font=font, fill=(90, 90, 90))
    draw.line((*at(0, 0), *at(1, 1)), fill=(160, 160, 160), width=2)
    points = [at(float(r["predicted"]), float(r["observed"])) for r in rows]
    if len(points) > 1:
        draw.line(points, fill=_COLORS[0], width=3)
    for x, y in points:
        draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=_COLORS[0])
    draw.text((left + size + 30, top + 10), words.reliability_note, font=font, fill=(90, 90, 90))
    return image


def _deciles_image(deciles: Mapping[str, Sequence[float]], words: ChartWords, font_path: str) -> Image.Image:
    """Grouped bars: for each decile (best-scored first), each method's share of next-period buyers."""
    image = Image.new("RGB", (_W, _H), "white")
    draw = ImageDraw.Draw(image)
    title_font, font = ImageFont.truetype(font_path, 24), ImageFont.truetype(font_path, 15)
    draw.text((20, 16), words.title, font=title_font, fill=(30, 30, 30))
    names = list(deciles)
    peak = max((v for values in deciles.values() for v in values if v == v), default=0.0) or 1.0
    plot_h, plot_w = _H - _TOP - _BOTTOM, _W - _LEFT - 30
    group = plot_w / 10
    bar = (group - 12) / max(1, len(names))
    for tick in range(5):
        share = peak * tick / 4
        y = _TOP + plot_h - plot_h * share / peak
        draw.line((_LEFT, y, _W - 30, y), fill=(225, 225, 225))
        draw.text((18, y - 9), f"{share:.0%}", font=font, fill=(90, 90, 90))
    for decile in range(10):
        x0 = _LEFT + decile * group + 6
        for index, name in enumerate(names):
            value = deciles[name][decile]
            height = 0 if value != value else plot_h * value / peak
            left = x0 + index * bar
            draw.rectangle((left, _TOP + plot_h - height, left + bar - 2, _TOP + plot_h),
                           fill=_COLORS[index % len(_COLORS)])
        draw.text((x0 + group / 2 - 20, _TOP + plot_h + 6), words.deciles[decile], font=font, fill=(30, 30, 30))
    draw.text((_LEFT, _H - 46), words.note, font=font, fill=(90, 90, 90))
    for index, name in enumerate(names):
        x = _LEFT + 20 + index * 150
        draw.rectangle((x, 56, x + 14, 70), fill=_COLORS[index % len(_COLORS)])
        draw.text((x + 20, 53), words.labels.get(name, name), font=font, fill=(30, 30, 30))
    return image
