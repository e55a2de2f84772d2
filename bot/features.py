"""The features, in order: the one list the app is composed from.

Each name is a top-level package declaring what it plugs in (``FEATURE = Feature(...)`` in its
``__init__.py``, bot/feature.py). The order is the order their config loads, their demo chapters
play, their CLI sub-commands and 客户 profile sections appear. Adding a feature is its package, its
``handlers/<feature>.py`` and one name here (CONTRIBUTING.md).
"""

FEATURES = ("customers", "tagging", "leads", "boards", "operators", "sop", "orgsync", "channels", "sidebar", "predict",
            "acquisition", "campaigns", "groups")
