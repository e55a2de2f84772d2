"""Auto-tagging: declarative rules (config/tag_rules.yaml) → tags with evidence → synced to WeCom.

``config.py`` loads the rules; ``kinds/`` holds the rule types (the registry in ``kinds/base.py``,
one module per built-in type); ``engine.py`` turns rules into the tags each customer should have;
``service.py`` re-tags some or all customers; ``delivery.py`` keeps WeCom's tags equal to ours;
``report.py`` says why a customer has a tag; ``chat.py`` renders the operators' chat replies;
``events.py`` declares the internal event tagging publishes; ``cli.py`` is ``scrm tags`` and ``demo.py``
its demo chapter. (Rules reload with every config file: bot/reload.py, ``重载配置``.)
"""

from bot.feature import Feature

FEATURE = Feature(
    "tagging",
    config=(("tag_rules", "tagging.config:load"),),
    kinds=("tagging.kinds.behaviour", "tagging.kinds.channel", "tagging.kinds.keyword", "tagging.kinds.lifecycle",
           "tagging.kinds.prediction", "tagging.kinds.rfm"),
    ticks=("handlers.tagging:RETAG_ALL", "handlers.tagging:RECONCILE_TAGS", "handlers.tagging:PUSH_TAGS"),
    templates=("tagging.report:TEMPLATES", "tagging.kinds.behaviour:TEMPLATES", "tagging.kinds.channel:TEMPLATES",
               "tagging.kinds.keyword:TEMPLATES", "tagging.kinds.lifecycle:TEMPLATES",
               "tagging.kinds.prediction:TEMPLATES", "tagging.kinds.rfm:TEMPLATES"),
)
