"""Rule types: the registry (``base.py``: ``@rule_type``, ``RuleBase``, the parameter checks) and
the built-in types, one module each; tagging/__init__.py names the modules (a new type: a module here
with a ``@rule_type`` class, plus one line in the tagging feature's ``kinds``)."""
