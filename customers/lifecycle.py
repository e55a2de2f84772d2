"""The customer lifecycle, defined once: its stages and the thresholds between them.

Tagging gives each customer one stage tag (tagging/kinds/lifecycle.py), SOP playbooks target
stages (``audience: {lifecycle: [...]}``), leads wake the 沉睡 (``dormant_wakeup``), the boards
count the woken (``dormant_woken``) and predict uses the stages as a baseline. They all read the
names and the thresholds from here.

The thresholds are set in one config file, on the ``lifecycle`` rule of config/tag_rules.yaml
(``dormant_days``, ``active_days``, ``churn_factor``; the defaults below when there is none). A
``dormant_days`` anywhere else (a lead pattern's params, a prediction rule) is refused with a
ConfigError naming that place, so two files can never disagree about when a customer is asleep.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACTIVE", "CHURN_RISK", "DEFAULT", "DORMANT", "FIRST", "LOST", "NEW", "REPEAT", "Lifecycle", "PRECEDENCE",
           "STAGES", "in_use", "moved"]

NEW, FIRST, REPEAT, ACTIVE, CHURN_RISK, DORMANT, LOST = "新客", "首购", "复购", "活跃", "流失风险", "沉睡", "已流失"

# A customer's life in order, as operators name the stages (SOP audiences, messages).
STAGES: tuple[str, ...] = (NEW, FIRST, REPEAT, ACTIVE, CHURN_RISK, DORMANT, LOST)
# The same stages by precedence: a customer is in the first one that holds (the lifecycle rule's
# order, and the order its tags are created in WeCom).
PRECEDENCE: tuple[str, ...] = (LOST, DORMANT, CHURN_RISK, ACTIVE, REPEAT, FIRST, NEW)
assert sorted(PRECEDENCE) == sorted(STAGES)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The thresholds between the stages."""

    dormant_days: float = 180.0  # 沉睡: no purchase for this many days
    active_days: float = 30.0  # 活跃: a repeat buyer whose last purchase is this recent
    churn_factor: float = 2.0  # 流失风险: the gap since the last purchase past this × their own cycle


DEFAULT = Lifecycle()
WHERE = "the lifecycle rule in tag_rules.yaml"


def moved(key: str, lifecycle: Lifecycle = DEFAULT) -> str:
    """The ConfigError text for a lifecycle threshold set outside its one place."""
    value = getattr(lifecycle, key, None)
    now = f" (now {value:g})" if isinstance(value, float) else ""
    return (f"{key} is the lifecycle's threshold, shared by tagging, leads, SOP and the boards: "
            f"set it once, on {WHERE}{now}")


def in_use(tag_rules: object) -> Lifecycle:
    """The thresholds the loaded tag rules set (``deps.config[TAG_RULES]``); the defaults without them."""
    found = getattr(tag_rules, "lifecycle", None)
    return found if isinstance(found, Lifecycle) else DEFAULT
