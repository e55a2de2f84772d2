"""The organisation from WeCom's address book: departments → stores, members → guides, kept in step."""

from bot.feature import Feature

FEATURE = Feature("orgsync", ticks=("handlers.orgsync:ORG_SYNC",))
