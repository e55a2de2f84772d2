"""Channel codes (渠道活码) made by the product: real contact ways with a ``state``, their images and figures."""

from bot.feature import Feature

FEATURE = Feature("channels", templates=("channels.report:TEMPLATES", "channels.service:TEMPLATES"))
