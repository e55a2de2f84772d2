"""Roles: who may use which chat command, who a member writing to the app is, and how a member is named.

The engine's command router (bot/commands.py) knows no roles. This module registers them (``use_access``)
and the ``member`` argument kind; the operators feature's ``kinds`` (operators/__init__.py) names it.
Commands say who may use them with the sets below: ``@router.command(..., roles=OPERATORS)``.
"""

from __future__ import annotations

from bot.commands import Access, Caller, arg_kind, use_access
from bot.deps import Deps
from customers.models import Guide, Role
from operators import service

__all__ = ["ADMINS", "EVERYONE", "MANAGERS", "MEMBER", "OPERATORS", "ROLE_SPELLINGS", "role_name"]

EVERYONE = frozenset(Role)
MANAGERS = frozenset({Role.STORE_MANAGER, Role.OPERATOR, Role.HQ, Role.ADMIN})
OPERATORS = frozenset({Role.OPERATOR, Role.HQ, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})

MEMBER = "member"  # an argument kind: a member by userid or name

# What an admin may type for a role in 角色 (input words, like a command's aliases).
ROLE_SPELLINGS = {role.value: role.value for role in Role} | {
    "导购": Role.GUIDE.value, "店长": Role.STORE_MANAGER.value, "manager": Role.STORE_MANAGER.value,
    "运营": Role.OPERATOR.value, "总部": Role.HQ.value, "管理员": Role.ADMIN.value,
}


def role_name(deps: Deps, role: str) -> str:
    """A role as members read it (templates ``role_<role>``)."""
    return deps.config.templates.render(f"role_{Role(role).value}")


async def _caller(deps: Deps, userid: str) -> Caller:
    return await service.caller_of(deps, userid)


ACCESS = use_access(Access(_caller, role_name, tuple(Role)))


@arg_kind(MEMBER)
async def member(deps: Deps, caller: Caller, token: str) -> Guide:
    return await service.find_member(deps, token)
