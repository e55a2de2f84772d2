"""Every registry is one type: the same refusal for a taken name, the same answer for an unknown one,
frozen once the features are loaded."""

from __future__ import annotations

import pytest

from boards.kinds import METRICS
from bot.commands import ARG_KINDS
from bot.feature import load_features
from bot.internal import known_events
from bot.registry import Registry, UnknownName
from leads.kinds import PATTERNS
from sidebar.kinds import SECTIONS
from sop.kinds import GOALS, TRIGGERS
from tagging.kinds.base import RULE_TYPES


def test_a_taken_name_is_refused_and_an_unknown_one_names_the_known() -> None:
    colours: Registry[str] = Registry("colour", process_wide=False)
    colours.add("red", "#f00")
    colours.add("red", "#f00")  # the same thing again: a module imported twice
    with pytest.raises(ValueError, match="colour 'red' is registered already"):
        colours.add("red", "#e00")
    with pytest.raises(UnknownName, match=r"unknown colour 'blue' \(known: red\)"):
        colours["blue"]
    assert colours.names() == ["red"] and "red" in colours and colours.get("blue") is None


def test_after_the_freeze_nothing_new_registers() -> None:
    colours: Registry[str] = Registry("colour", process_wide=False)
    colours.add("red", "#f00")
    colours.freeze()
    with pytest.raises(RuntimeError, match="colour 'green' registered after start"):
        colours.add("green", "#0f0")
    assert colours.add("red", "#f00") == "#f00"


def test_every_feature_registry_is_loaded_and_frozen_at_start() -> None:
    load_features()
    registries = [RULE_TYPES, TRIGGERS, GOALS, PATTERNS, METRICS, SECTIONS, ARG_KINDS]
    assert all(len(r) and r.frozen for r in registries), [r for r in registries if not (len(r) and r.frozen)]
    assert {"rfm", "keyword", "lifecycle"} <= set(RULE_TYPES)
    assert "customer_changed" in known_events()
    with pytest.raises(UnknownName, match=r"unknown tag rule type 'magic' \(known: .*rfm"):
        RULE_TYPES["magic"]
