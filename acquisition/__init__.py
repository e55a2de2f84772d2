"""Member acquisition: a brand's member list turned into WeCom contacts of the right guide (添加会员)."""

from bot.feature import Feature

FEATURE = Feature(
    "acquisition",
    ticks=("handlers.acquisition:ACQUIRE_DAILY",),
    routes=("acquisition.intake:add_routes",),
    card_sections=("acquisition.sidebar",),
    templates=("acquisition.chat:TEMPLATES", "acquisition.delivery:TEMPLATES", "acquisition.page:TEMPLATES",
               "acquisition.service:TEMPLATES", "acquisition.links:TEMPLATES"),
)
