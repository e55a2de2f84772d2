"""Auto-tagging: declarative rules (config/tag_rules.yaml) → tags with evidence → synced to WeCom."""
