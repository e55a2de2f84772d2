"""Step actions: what a due step asks of the guides. One class each, registered with ``@step_action``.

``message``, ``mass`` and ``group_post`` are a task per customer in the guide's list (``mass`` is also
prepared in WeCom with add_msg_template, as a campaign, for the guide to confirm); ``moment`` is one
moment (朋友圈) task per due occurrence, for the whole audience at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sop import moments, service
from sop.kinds import Fail, OccasionTrigger, TriggerKind, step_action

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["MomentParams"]

MAX_ATTACHMENTS = 9  # add_moment_task takes at most 9


class _Task:
    per_customer = True

    def check(self, raw: Mapping[str, Any], fail: Fail, trigger: TriggerKind, playbook: Mapping[str, Any]) -> None:
        return None

    async def prepare(self, deps: Deps) -> int:
        return 0


@step_action("message")
class Message(_Task):
    """A 1:1 message the guide sends: the template is the suggested text, rendered for the customer."""


@step_action("group_post")
class GroupPost(_Task):
    """A post to a customer group, in the guide's list."""


@step_action("mass")
class Mass(_Task):
    """A customer mass message: each (guide, step) batch becomes a campaign, one add_msg_template per guide to
    confirm in WeCom, its results synced; the SOP report counts the customers it was delivered to."""

    async def prepare(self, deps: Deps) -> int:
        return await service.prepare_mass(deps)


def _names(raw: Mapping[str, Any], key: str, fail: Fail) -> tuple[str, ...]:
    value = raw.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(f"`{key}` must be a list of names")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class MomentParams:
    attachments: tuple[str, ...] = ()  # sidebar library item ids (images, links, mini-programs)
    guides: tuple[str, ...] = ()  # who publishes; none: the guides of the playbook's stores (or every guide)


@step_action("moment")
class MomentStep:
    """A moment (客户朋友圈) once per occurrence (e.g. each Monday's 上新): the template is its text, ``attachments``
    library items; visible to customers with the playbook's audience tags (tags, lifecycle, rfm), published by
    ``guides`` or the guides of the playbook's stores. Needs a calendar or weekly trigger."""

    per_customer = False

    def check(
        self, raw: Mapping[str, Any], fail: Fail, trigger: TriggerKind, playbook: Mapping[str, Any]
    ) -> MomentParams:
        if not isinstance(trigger, OccasionTrigger):
            raise fail("a moment step needs a trigger that falls on days for everyone (calendar, weekly)")
        audience = playbook.get("audience") or {}
        if isinstance(audience, Mapping) and audience.get("exclude_tags"):
            raise fail("a moment cannot exclude tags (WeCom shows it to customers with the tags listed): "
                       "remove audience.exclude_tags")
        attachments = _names(raw, "attachments", fail)
        if len(attachments) > MAX_ATTACHMENTS:
            raise fail(f"a moment takes at most {MAX_ATTACHMENTS} attachments")
        return MomentParams(attachments, _names(raw, "guides", fail))

    async def prepare(self, deps: Deps) -> int:
        return await moments.prepare_moments(deps)
