"""Leads: shop signals and chat patterns found, scored, handed to the guide, followed to a sale."""

from bot.feature import Feature

FEATURE = Feature(
    "leads",
    ticks=("handlers.leads:LEADS_SWEEP", "handlers.leads:LEADS_FLUSH"),
    routes=("leads.signals:add_routes",),
    profile=("leads.chat:lead_lines",),
)
