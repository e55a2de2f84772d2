"""Purchase predictions: each customer's chance to buy in 30 / 90 days, expected spend, and why.

- ``service``: the nightly run (``@router.tick(PREDICT_NIGHTLY)`` in handlers/predict.py) and the
  stored figures; ``models``: one prediction row per customer, one row per run.
- ``source``: the brand's history from the database; ``history`` / ``synthetic``: the same from a
  file or a seeded synthetic brand; ``features``: what is known at a cut day.
- ``scoring``: back-test, then score with the chosen method; ``model`` (LightGBM), ``stack`` (its
  stacked inputs: BG/NBD's and RFM's outputs), ``bgnbd`` (BG/NBD and Gamma-Gamma) and ``baselines``
  (recency, RFM, lifecycle) are the methods; ``backtest`` compares them, ``intervals`` (DeLong) says
  how sure, ``choice`` picks the simplest the best cannot be told from, ``calibration`` turns a score
  into P(buy), ``accuracy`` holds the figures, ``chart`` draws the deciles and the reliability plot,
  ``reasons`` finds what moved each customer's score (LightGBM ``pred_contrib``).
- ``chat``: a prediction in words (the 客户 profile); ``sidebar``: the sidebar card's section and the
  next best action "a likely reorder" (``sidebar/nextaction.py``);
  ``report``: HQ's per-store figures and the board metric ``expected_sales_90``; ``value``: the
  weight leads and SOP give a customer's value; ``cli``: ``scrm predict``.
"""

from bot.feature import Feature

FEATURE = Feature(
    "predict",
    config=(),  # predict/config.py holds the words of a prediction (TEMPLATES), no file of its own
    ticks=("handlers.predict:PREDICT_NIGHTLY",),
    worker_startup=("handlers.predict:load_nightly_parent",),
    profile=("predict.chat:prediction_lines",),
    card_sections=("predict.sidebar",),
    templates=("predict.config:TEMPLATES",),
)
