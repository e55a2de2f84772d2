"""What a campaign sends: its content checked against WeCom's limits before anything goes out (text ≤ 4,000
bytes with the placeholders ``{guide}`` and ``{store}``, ≤ 9 attachments from the sidebar library), and the
attachments as add_msg_template takes them (images and files uploaded once, by the library's own cache)."""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from bot.deps import Deps
from bot.wecom import limits
from bot.wecom.client import Upload
from campaigns.content import ATTACHMENT_KINDS, MAX_ATTACHMENTS, PLACEHOLDERS
from customers.models import Guide
from sidebar.config import LIBRARY
from sidebar.materials import media_id_for

__all__ = ["ATTACHMENT_KINDS", "MAX_ATTACHMENTS", "PLACEHOLDERS", "ContentError", "attachments_payload",
           "check_content", "render_text"]



class ContentError(ValueError):
    """The content breaks one of WeCom's rules; nothing was sent. The message says which."""


def check_content(deps: Deps, text: str, items: Sequence[str]) -> None:
    if not text.strip() and not items:
        raise ContentError("内容为空：需要文字或附件")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as err:
        raise ContentError(f"占位符写法有误：{err}") from None
    unknown = names - PLACEHOLDERS
    if unknown:
        raise ContentError(f"未知占位符 {{{sorted(unknown)[0]}}}（可用：{{guide}}、{{store}}）")
    longest = render_text(text, None, guide="一二三四五六七八九十" * 2, store="一二三四五六七八九十" * 3)
    if len(longest.encode()) > limits.CUSTOMER_TEXT_MAX_BYTES:
        raise ContentError(f"文字超过企业微信的 {limits.CUSTOMER_TEXT_MAX_BYTES} 字节上限")
    if len(items) > MAX_ATTACHMENTS:
        raise ContentError(f"附件最多 {MAX_ATTACHMENTS} 个")
    library = deps.config[LIBRARY].items
    for item_id in items:
        item = library.get(item_id)
        if item is None:
            raise ContentError(f"素材库里没有 {item_id}")
        if item.kind not in ATTACHMENT_KINDS:
            raise ContentError(f"{item_id} 是{item.kind}，附件只能是图片、链接、小程序或文件")


def render_text(text: str, member: Guide | None, **values: str) -> str:
    """The text for one guide's customers (``values`` fill in for a guide, to measure the longest)."""
    if member is not None:
        values = {"guide": member.name or member.userid, "store": member.store.name if member.store else ""} | values
    return text.format_map({name: values.get(name, "") for name in PLACEHOLDERS})


async def attachments_payload(deps: Deps, items: Sequence[str]) -> list[dict[str, Any]]:
    """The attachments as WeCom takes them; media are uploaded when the campaign is sent (they last 3 days)."""
    out: list[dict[str, Any]] = []
    for item_id in items:
        item = deps.config[LIBRARY].items[item_id]
        if item.kind == "link":
            out.append({"msgtype": "link", "link": {"title": item.title, "url": item.url, "desc": item.desc,
                                                    "picurl": item.image_url}})
        elif item.kind == "miniprogram":
            # A mini-program card needs its cover as a media_id: the library has its URL.
            cover = await deps.wecom.download(item.image_url)
            media_id = await deps.wecom.upload_media("image", Upload(f"{item.id}.png", cover, "image/png"))
            out.append({"msgtype": "miniprogram", "miniprogram": {"title": item.title, "appid": item.appid,
                                                                  "page": item.page, "pic_media_id": media_id}})
        else:
            out.append({"msgtype": item.kind, item.kind: {"media_id": await media_id_for(deps, item)}})
    return out
