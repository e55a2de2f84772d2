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
    from predict.service import predict_everyone  # loaded by a worker at its start (below), by a CLI run here

    await predict_everyone(deps)


async def load_nightly_parent(deps: Deps) -> None:
    """When a worker starts (``worker_startup``): import the nightly run's worker side (numpy; the models load in
    its child only). Any worker may take the nightly job, some days after it started: loading it then would step
    that worker's memory up by ~15 MB for good on that day, which reads as a leak; loaded now, it is flat from the
    start. The CLI and the web role never pay for it."""
    import importlib

    importlib.import_module("predict.service")
