"""SOP playbooks: follow-ups that become each guide's dated tasks, with reminders, execution rate and lift."""

from bot.feature import Feature

FEATURE = Feature(
    "sop",
    kinds=("sop.kinds.triggers", "sop.kinds.steps", "sop.kinds.goals"),
    ticks=("handlers.sop:SOP_TICK", "handlers.sop:SOP_DIGEST", "handlers.sop:SOP_REMINDER",
           "handlers.sop:SOP_ESCALATION"),
    profile=("sop.chat:open_task_lines",),
    templates=("sop.delivery:TEMPLATES",),
)
