"""WeCom's rules for a mass message's content, shared by the config file's check and the send's."""

from __future__ import annotations

__all__ = ["ATTACHMENT_KINDS", "MAX_ATTACHMENTS", "PLACEHOLDERS"]

MAX_ATTACHMENTS = 9
ATTACHMENT_KINDS = ("image", "link", "miniprogram", "file")
# One text goes to all the customers of a task: only what is the same for them all can fill it in.
PLACEHOLDERS = frozenset({"guide", "store"})
