"""Chat commands for admins: 角色 (set a member's role), 订阅排行 (a group robot gets the boards)."""

from __future__ import annotations

from boards.delivery import subscribe
from bot.commands import ADMINS, MEMBER, ROLE_NAMES, Arg, Call, CommandError, command
from customers.models import Guide, Role
from customers.org import ROLE_FROM_CHAT

ROLES = {alias: role.value for role in Role for alias in (role.value, ROLE_NAMES[role])} | {
    "店长": Role.STORE_MANAGER.value, "manager": Role.STORE_MANAGER.value, "运营": Role.OPERATOR.value,
    "总部": Role.HQ.value, "管理员": Role.ADMIN.value, "导购": Role.GUIDE.value,
}


@command("角色", "role", args=[Arg("成员", MEMBER), Arg("角色", choices=ROLES)], roles=ADMINS,
         help="设置成员角色：导购、店长、运营、总部、管理员")
async def set_role(call: Call) -> str:
    member: Guide = call.args["成员"]
    role = Role(call.args["角色"])
    member.role, member.role_source = role, ROLE_FROM_CHAT
    # The chat decision outlives restarts: config/org.yaml no longer changes this member's role.
    await member.save(update_fields=["role", "role_source", "updated_at"])
    return call.say("cmd_role_set", name=member.name or member.userid, role=ROLE_NAMES[role])


@command("订阅排行", "subscribe", args=[Arg("群机器人名称")], roles=ADMINS, help="让群机器人每天/周/月接收排行榜")
async def subscribe_board(call: Call) -> str:
    robot = call.args["群机器人名称"]
    known = call.deps.settings.robot_keys()
    if robot not in known:
        raise CommandError(call.say("cmd_unknown_robot", robot=robot, detail="、".join(known) or "无"))
    created = await subscribe(robot, call.caller.userid, call.deps.clock.now())
    return call.say("cmd_subscribed" if created else "cmd_already_subscribed", robot=robot)
