"""Operators: roles, chat commands for operators, hand-over, command audit."""

from bot.feature import Feature

FEATURE = Feature(
    "operators",
    kinds=("operators.roles",),
    ticks=("handlers.operators:HANDOVER_CHECK",),
    templates=("operators.handover:TEMPLATES",),
)
