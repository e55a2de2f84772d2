"""Members as operators manage them: who is calling, finding a member, setting a role."""

from __future__ import annotations

from bot.commands import Caller, CommandError, say
from bot.deps import Deps
from customers.models import ROLE_FROM_CHAT, Guide, Role
from customers.service import ensure_guide

__all__ = ["caller_of", "find_member", "set_role"]


async def caller_of(deps: Deps, userid: str) -> Caller:
    """The member behind a chat message, with their role (SCRM_ADMIN_USERIDS are admins whatever it says)."""
    guide = await ensure_guide(deps, userid)
    role = Role.ADMIN if userid in deps.settings.admin_userids else Role(guide.role)
    return Caller(userid, guide.name or userid, role, guide.id, guide.store_id)


async def find_member(deps: Deps, token: str) -> Guide:
    """A member by userid or name; CommandError (the reply) when none or several match."""
    member = await Guide.get_or_none(userid=token)
    if member is None:
        named = await Guide.filter(name=token).limit(3)
        if len(named) > 1:
            listed = "、".join(g.userid for g in named)
            raise CommandError(say(deps, "cmd_member_ambiguous", name=token, detail=listed))
        member = named[0] if named else None
    if member is None:
        raise CommandError(say(deps, "cmd_member_not_found", name=token))
    return member


async def set_role(member: Guide, role: Role) -> None:
    """An admin's decision in chat: it outlives restarts, config/org.yaml no longer changes this member's role."""
    member.role, member.role_source = role, ROLE_FROM_CHAT
    await member.save(update_fields=["role", "role_source", "updated_at"])
