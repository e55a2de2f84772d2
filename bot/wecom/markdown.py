"""Text from people (member, store and team names) inside WeCom markdown: shown as written, never
read as markup. WeCom's markdown has no documented escape character, so each markup character is
replaced by its full-width twin, which reads the same to a person."""

from __future__ import annotations

__all__ = ["plain"]

_TWINS = str.maketrans({
    "*": "＊", "_": "＿", "`": "｀", "#": "＃", "[": "［", "]": "］", "(": "（", ")": "）",
    "<": "＜", ">": "＞", "~": "～", "|": "｜", "\\": "＼", "\n": " ", "\r": " ",
})


def plain(text: str) -> str:
    """``text`` for a markdown message: bold, links, ``<font>``, quotes and headings have no effect."""
    return text.translate(_TWINS)
