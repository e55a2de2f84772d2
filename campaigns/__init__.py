"""Campaigns: every push a guide confirms in WeCom (customer mass sends, moments), followed to the customer."""
