"""What the simulated WeCom keeps about pushes guides confirm: mass-send tasks and their results, moments,
and guides' behaviour data. The APIs are in ``simulator/apis/groupmsg.py`` and ``simulator/apis/moments.py``;
tests and the demo play the guides through the functions there (a guide sends, publishes, ignores it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CustomerResult", "MassTask", "MomentTask", "ReachState"]

# get_groupmsg_send_result statuses
UNSENT, SENT, NOT_FRIEND, OVER_LIMIT = 0, 1, 2, 3


@dataclass
class CustomerResult:
    external_userid: str
    status: int = UNSENT
    send_time: int = 0


@dataclass
class MassTask:
    """One add_msg_template as its sender sees it: status 0 unsent / 2 sent."""

    msgid: str
    sender: str
    created_at: float
    results: list[CustomerResult]
    status: int = 0
    send_time: int = 0
    cancelled: bool = False
    reminders: list[float] = field(default_factory=list)


@dataclass
class MomentTask:
    jobid: str
    moment_id: str
    text: str
    attachments: list[dict[str, Any]]
    senders: list[str]  # the members asked to publish
    tag_ids: list[str]
    created_at: float
    published: dict[str, int] = field(default_factory=dict)  # userid -> publish time
    # userid -> the customers who could see it once published
    visible: dict[str, list[str]] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)  # {userid, external_userid, type, create_time}
    cancelled: bool = False


@dataclass
class ReachState:
    mass: dict[str, MassTask] = field(default_factory=dict)  # by msgid, in creation order
    # external_userid -> the times they received a mass message (the per-customer limit)
    received: dict[str, list[float]] = field(default_factory=dict)
    # Mass messages a customer may receive a month; None: as many as the month has days (WeCom's default).
    monthly_cap: int | None = None
    moments: dict[str, MomentTask] = field(default_factory=dict)  # by moment_id
    moment_jobs: dict[str, str] = field(default_factory=dict)  # jobid -> moment_id
    # (userid, "YYYY-MM-DD") -> the day's figures, as get_user_behavior_data returns them
    behaviour: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
