"""The ``customer`` argument kind of chat commands: a customer by name or id, among those the caller may see.

Registered into the engine's command router (bot/commands.py); the customers feature's ``kinds`` in
customers/__init__.py names this module. ``@router.command(..., args=[Arg("名字|id", CUSTOMER)])`` uses it.
"""

from __future__ import annotations

from bot.commands import Caller, CommandError, arg_kind, say
from bot.deps import Deps
from customers.models import Customer
from customers.scope import Scope

__all__ = ["CUSTOMER", "find_customer"]

CUSTOMER = "customer"


@arg_kind(CUSTOMER)
async def find_customer(deps: Deps, caller: Caller, token: str) -> Customer:
    """A customer by external_userid or name, among those the caller may see (``customers/scope.py``)."""
    scope = Scope.of(caller.userid, caller.role, caller.guide_id, caller.store_id).customers()
    exact = await scope.filter(external_userid=token).distinct().first()
    if exact is not None:
        return exact
    found = await scope.filter(name=token).distinct().limit(6)
    if not found:
        found = await scope.filter(name__icontains=token).distinct().limit(6)
    if not found:
        raise CommandError(say(deps, "cmd_customer_not_found", name=token))
    if len(found) > 1:
        listed = "、".join(f"{c.name}（{c.external_userid}）" for c in found[:5])
        raise CommandError(say(deps, "cmd_customer_ambiguous", name=token, detail=listed))
    return found[0]
