"""WeCom's size limits on what we send, in UTF-8 bytes (not characters: one Chinese character is 3
bytes, so ``text[:2000]`` can be 6,000 bytes and WeCom answers 45002).

Every sender fits its text here: :func:`split` for replies that may run long (each part a whole
number of lines, nothing dropped), :func:`fit` for one message that gets a tail telling the reader
how to see the rest. Nothing here ever cuts inside a character.
"""

from __future__ import annotations

__all__ = [
    "TEXT_MAX_BYTES",
    "MARKDOWN_MAX_BYTES",
    "ROBOT_TEXT_MAX_BYTES",
    "ROBOT_MARKDOWN_MAX_BYTES",
    "CUSTOMER_TEXT_MAX_BYTES",
    "ELLIPSIS",
    "utf8_len",
    "cut",
    "fit",
    "split",
]

# message/send to members: text.content and markdown.content, at most 2,048 bytes (errcode 45002).
TEXT_MAX_BYTES = 2048
MARKDOWN_MAX_BYTES = 2048
# Group robots (webhook/send): text 2,048 bytes, markdown 4,096 bytes (errcode 40058).
ROBOT_TEXT_MAX_BYTES = 2048
ROBOT_MARKDOWN_MAX_BYTES = 4096
# What customers receive: send_welcome_msg and add_msg_template text.content, at most 4,000 bytes.
CUSTOMER_TEXT_MAX_BYTES = 4000

ELLIPSIS = "…"


def utf8_len(text: str) -> int:
    return len(text.encode())


def cut(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` within ``max_bytes`` UTF-8 bytes, never half a character."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    # A prefix of valid UTF-8 is valid except for at most one incomplete character at its end.
    return encoded[: max(0, max_bytes)].decode("utf-8", "ignore")


def fit(text: str, max_bytes: int, tail: str = ELLIPSIS) -> str:
    """``text`` if it fits; otherwise as many whole lines as fit, then ``tail`` on a line of its own
    (e.g. "回复「待办」查看全部"). A first line longer than the limit is cut and ends with ``…``."""
    if utf8_len(text) <= max_bytes:
        return text
    tail = cut(tail, max_bytes // 2)
    room = max_bytes - utf8_len(tail) - 1  # the newline before the tail
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        cost = utf8_len(line) + (1 if kept else 0)
        if used + cost > room:
            if not kept:
                kept.append(cut(line, room - utf8_len(ELLIPSIS)) + ELLIPSIS)
            break
        kept.append(line)
        used += cost
    return "\n".join(kept) + "\n" + tail if tail else "\n".join(kept)


def split(text: str, max_bytes: int) -> list[str]:
    """``text`` as consecutive parts within ``max_bytes`` each: whole lines where they fit, a longer
    line in byte-sized pieces. Joining the parts with newlines gives back every character (blank
    parts are left out: WeCom refuses empty content)."""
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one character (4 bytes)")
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for line in text.split("\n"):
        while utf8_len(line) > max_bytes:
            piece = cut(line, max_bytes)
            if current:
                parts.append("\n".join(current))
                current, used = [], 0
            parts.append(piece)
            line = line[len(piece) :]
        cost = utf8_len(line) + (1 if current else 0)
        if current and used + cost > max_bytes:
            parts.append("\n".join(current))
            current, used, cost = [], 0, utf8_len(line)
        current.append(line)
        used += cost
    if current:
        parts.append("\n".join(current))
    return [p for p in parts if p.strip()]
