"""Purchase predictions: the nightly run, queued by the scheduler's tick."""

from __future__ import annotations

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron

router = Router("predict")


PREDICT_NIGHTLY = cron("predict_nightly", "scrm_predict_cron")


@router.tick(PREDICT_NIGHTLY)
async def on_predict_nightly(event: Event, deps: Deps) -> None:
    from predict.service import predict_everyone  # numpy loads on the first run (the models only in its child)

    await predict_everyone(deps)
