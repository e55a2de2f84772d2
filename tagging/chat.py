"""Chat replies for operators, as plain functions the chat commands call: ``标签规则`` and the
``重算标签`` job's progress and outcome. Each text comes from config/templates.yaml."""

from __future__ import annotations

from bot.commands import say, send_to_member
from bot.deps import Deps
from tagging.config import TAG_RULES
from tagging.delivery import push_pending
from tagging.service import retag_everyone

__all__ = ["rules_reply", "retag_job"]


def rules_reply(deps: Deps) -> str:
    """``标签规则``: every rule in use, with its type and group."""
    ruleset = deps.config[TAG_RULES]
    lines = [f"· {r.id}（{r.type_name}，{r.group}）：{r.description}" for r in ruleset.rules]
    return say(deps, "cmd_rules", count=len(ruleset.rules), lines="\n".join(lines))


async def retag_job(deps: Deps, userid: str, job: str) -> None:
    """``重算标签``'s background job: re-tag everyone, tell the operator how much goes to WeCom,
    push it, then tell them the outcome (each message once per job)."""
    run = await retag_everyone(deps, push=False)
    await send_to_member(deps, userid, say(deps, "cmd_retag_progress", job=job, pending=run.retag.pending_relations),
                         f"job:{job}:progress")
    sync = await push_pending(deps) if run.retag.pending_relations else None
    text = say(deps, "cmd_retag_done", job=job, desired=run.retag.desired,
               pending=sync.mark_tag_calls if sync else 0, seconds=round(run.retag.seconds, 1))
    await send_to_member(deps, userid, text, f"job:{job}:done")
