"""Tortoise models of the engine and the customer data they share. Listed in ``bot.db.ENGINE_MODELS``."""
