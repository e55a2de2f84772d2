"""Card sections from other features: one line here per module that registers ``@card_section``s.

The sidebar's own sections live in ``sidebar/card.py``. Another feature (predictions, say) puts
its sections in its own module and names that module here; ``setup_sidebar`` imports them once at
start, so an unknown module or a duplicate section id stops the start.
"""

from __future__ import annotations

import importlib

__all__ = ["EXTRA_SECTION_MODULES", "load_extra_sections"]

EXTRA_SECTION_MODULES: tuple[str, ...] = ()


def load_extra_sections(modules: tuple[str, ...] = EXTRA_SECTION_MODULES) -> None:
    for name in modules:
        importlib.import_module(name)
