"""Purchase predictions: the nightly run, queued by the scheduler's tick."""

from __future__ import annotations

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from handlers.commands_guides import PROFILE_SECTIONS
from predict.chat import prediction_lines
from predict.service import predict_everyone

router = Router("predict")


@router.on("internal", "predict_nightly")
async def on_predict_nightly(event: Event, deps: Deps) -> None:
    await predict_everyone(deps)


PROFILE_SECTIONS.append(prediction_lines)
