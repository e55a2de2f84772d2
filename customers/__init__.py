"""The customer base: who each guide has, where they came from, who was lost (shared by every feature)."""

from bot.feature import Feature

FEATURE = Feature(
    "customers",
    config=(("org", "customers.config:load"),),
    kinds=("customers.lookup",),
    routes=("customers.intake:add_routes",),
    startup=("handlers.customers:apply_configured_org",),
    worker_startup=("handlers.customers:sync_corp_tags_at_start",),
    templates=("customers.delivery:TEMPLATES",),
)
