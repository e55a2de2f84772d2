"""What travels through the queue: an event envelope, and the de-duplication key of a callback."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["Event", "callback_dedup_key", "route_of"]

# Fields that identify *which* change an event is about (PROTOCOL.md section 1, de-duplication).
# Two different changes may share a second, so every id present goes into the key.
_ID_FIELDS = (
    "UserID",
    "ExternalUserID",
    "ChatId",
    "Id",
    "TagType",
    "TaskId",
    "ResponseCode",
    "WelcomeCode",
    "EventKey",
    "UpdateDetail",
    "Source",
    "FailReason",
    "StrategyId",
    "State",
    "CurMemVer",
    "MemChangeList",
)


def callback_dedup_key(message: Mapping[str, Any]) -> str:
    """MsgId for messages; for events a hash of who, when, what and every id in the event."""
    msg_id = message.get("MsgId")
    if msg_id:
        return f"msg:{msg_id}"
    parts = [
        str(message.get("FromUserName", "")),
        str(message.get("CreateTime", "")),
        str(message.get("Event", "")),
        str(message.get("ChangeType", "")),
    ]
    parts.extend(f"{name}={message[name]}" for name in _ID_FIELDS if name in message)
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
    return f"evt:{digest}"


def route_of(source: str, body: Mapping[str, Any]) -> tuple[str, str, str]:
    """The (kind, event, change) triple handlers subscribe to.

    For WeCom callbacks it is (MsgType, Event, ChangeType), lower-cased as WeCom sends them;
    other sources (shop signals) use (source, type, "").
    """
    if source == "wecom":
        return (str(body.get("MsgType", "")), str(body.get("Event", "")), str(body.get("ChangeType", "")))
    return (source, str(body.get("type", "")), "")


@dataclass(frozen=True, slots=True)
class Event:
    """One unit of work read from the stream."""

    source: str
    key: str
    body: Mapping[str, Any]
    received_at: float
    attempt: int = 1
    done: frozenset[str] = field(default_factory=frozenset)
    stream_id: str = ""
    stream: str = ""  # the stream (lane) it was read from: where it is acknowledged

    @property
    def route(self) -> tuple[str, str, str]:
        return route_of(self.source, self.body)

    def get(self, name: str, default: str = "") -> str:
        value = self.body.get(name, default)
        return value if isinstance(value, str) else default

    def to_fields(self) -> dict[str, str]:
        return {
            "source": self.source,
            "key": self.key,
            "body": orjson.dumps(self.body).decode(),
            "received_at": repr(self.received_at),
            "attempt": str(self.attempt),
            "done": ",".join(sorted(self.done)),
        }

    @classmethod
    def from_fields(cls, stream_id: str, fields: Mapping[str, str], stream: str = "") -> Event:
        done = fields.get("done", "")
        return cls(
            source=fields["source"],
            key=fields["key"],
            body=orjson.loads(fields["body"]),
            received_at=float(fields.get("received_at", "0")),
            attempt=int(fields.get("attempt", "1")),
            done=frozenset(filter(None, done.split(","))),
            stream_id=stream_id,
            stream=stream,
        )
