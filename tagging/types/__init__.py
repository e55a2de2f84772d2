"""Built-in rule types. Importing this package registers them; a new type is one module here."""

from tagging.types import behaviour, channel, keyword, lifecycle, prediction, rfm

__all__ = ["behaviour", "channel", "keyword", "lifecycle", "prediction", "rfm"]
