"""The customer base: who each guide has, where they came from, who was lost (shared by every feature)."""
