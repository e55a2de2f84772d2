"""Built-in rule types, one module each; bot/features.py names the modules (a new type: a module
here with a ``@rule_type`` class, plus one line in the tagging feature's ``kinds``)."""
