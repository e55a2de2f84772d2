"""HQ leaderboards: registered metrics computed in SQL, boards per store and guide, guide PK, delivery."""
