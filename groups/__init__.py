"""Customer groups (客户群): group codes that never fill up, group welcome, group SOP and figures."""

from bot.feature import Feature

FEATURE = Feature(
    "groups",
    ticks=("handlers.groups:GROUP_CODES_CHECK", "handlers.groups:GROUP_PUSH", "handlers.groups:GROUP_RESULTS",
           "handlers.groups:GROUP_STATS"),
    templates=("groups.service:TEMPLATES", "groups.chat:TEMPLATES", "groups.welcome:TEMPLATES",
               "groups.delivery:TEMPLATES", "groups.report:TEMPLATES"),
)
