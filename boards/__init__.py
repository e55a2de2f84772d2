"""HQ leaderboards: registered metrics computed in SQL, boards per store and guide, guide PK, delivery."""

from bot.feature import Feature

FEATURE = Feature(
    "boards",
    config=(("leaderboard", "boards.config:load"),),
    ticks=("handlers.boards:BOARD_DAILY", "handlers.boards:BOARD_WEEKLY", "handlers.boards:BOARD_MONTHLY"),
    metrics=("boards.kinds",),
    templates=("boards.report:TEMPLATES", "boards.delivery:TEMPLATES", "boards.chat:TEMPLATES"),
)
