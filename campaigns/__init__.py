"""Campaigns: every push a guide confirms in WeCom (customer mass sends, moments), followed to the customer."""

from bot.feature import Feature

FEATURE = Feature(
    "campaigns",
    ticks=("handlers.campaigns:CAMPAIGN_SYNC", "handlers.campaigns:CAMPAIGN_SCHEDULE",
           "handlers.campaigns:BEHAVIOUR_DAILY"),
    metrics=("campaigns.report", "campaigns.behaviour"),
    templates=("campaigns.chat:TEMPLATES",),
)
