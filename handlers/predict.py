"""Purchase predictions: the nightly run, queued by the scheduler's tick; the 客户 profile's section."""

from __future__ import annotations

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from handlers.commands_guides import PROFILE_SECTIONS
from predict.chat import prediction_lines

router = Router("predict")


@router.on("internal", "predict_nightly")
async def on_predict_nightly(event: Event, deps: Deps) -> None:
    from predict.service import predict_everyone  # noqa: PLC0415 - numpy / LightGBM load on the first run only

    await predict_everyone(deps)


PROFILE_SECTIONS.append(prediction_lines)
