"""Nightly predictions stored per customer, from the brand's own orders in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.app import open_deps
from bot.clock import ManualClock
from bot.deps import Deps
from bot.scheduler import ticks
from config.settings import Settings
from customers.models import Customer
from customers.orders import OrderIn, record_orders
from predict.history import EPOCH, day_of
from predict.models import CustomerPrediction, PredictionRun
from predict.service import predict_everyone
from predict.synthetic import synthetic_brand
from tests.conftest import no_backend

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


@pytest.fixture
async def deps(make_settings: Callable[..., Settings], sim: Any) -> AsyncIterator[Deps]:
    async with open_deps(make_settings(wecom_api_base=sim.url), clock=ManualClock(NOW)) as built:
        yield built


async def brand_in_database(customers: int) -> dict[str, int]:
    """A synthetic brand's customers and orders, as ``scrm import orders`` would leave them."""
    days = 500
    history = synthetic_brand(customers, days=days, start_day=day_of(NOW.date()) - days - 1, seed=3, signals=False)
    await Customer.bulk_create([Customer(external_userid=e, first_seen_at=NOW) for e in history.ids])
    ids = dict(await Customer.filter(external_userid__in=list(history.ids)).values_list("external_userid", "id"))
    orders = [
        OrderIn(f"o{i}", Decimal(str(round(float(history.amount[i]), 2))),
                datetime.combine(EPOCH + timedelta(days=int(history.day[i])), datetime.min.time(), UTC)
                + timedelta(hours=4), history.ids[int(history.customer[i])])
        for i in range(len(history.day))
    ]
    await record_orders(orders)
    return ids


@pytest.mark.timeout(240)  # model fits on a shared host
async def test_every_buyer_gets_a_prediction_and_the_regular_ranks_above_the_lapsed(deps: Deps) -> None:
    ids = await brand_in_database(400)
    regular = await Customer.create(external_userid="wmREGULAR", first_seen_at=NOW)
    lapsed = await Customer.create(external_userid="wmLAPSED", first_seen_at=NOW)
    await record_orders(
        [OrderIn(f"r{k}", Decimal("300"), NOW - timedelta(days=5 + 20 * k), "wmREGULAR") for k in range(12)]
        + [OrderIn("l1", Decimal("80"), NOW - timedelta(days=420), "wmLAPSED")]
    )
    result = await predict_everyone(deps)

    stored = {p.customer_id: p for p in await CustomerPrediction.all()}
    buyers = {c.id for c in await Customer.filter(order_count__gt=0)}
    assert set(stored) == buyers and result.customers == len(buyers)
    assert len(buyers) > len(ids) * 0.9
    top, bottom = stored[regular.id], stored[lapsed.id]
    assert top.p_buy_90 > 0.6 > 0.15 > bottom.p_buy_90
    assert top.p_buy_30 <= top.p_buy_90
    assert top.rank_pct < 0.1 < 0.5 < bottom.rank_pct
    assert top.spend_90 > 300 and top.purchases_90 > 1
    assert top.next_purchase_on is not None and top.next_purchase_on <= (NOW + timedelta(days=60)).date()
    assert bottom.next_purchase_on is None
    assert top.why["n"] == 12 and top.why["recency"] == 5
    from predict.config import REASON_TEXTS

    reasons = top.why["reasons"]  # what moved her score most, largest first, for the guide's words
    assert 1 <= len(reasons) <= 3 and all(r["feature"] in REASON_TEXTS for r in reasons)
    assert [abs(r["change"]) for r in reasons] == sorted((abs(r["change"]) for r in reasons), reverse=True)
    run = await PredictionRun.get(id=(await PredictionRun.all().order_by("-id").first()).id)  # type: ignore[union-attr]
    assert run.method == result.method and run.customers == len(buyers)
    assert set(run.backtest["methods"]) == {"model", "bgnbd", "rfm", "recency", "lifecycle", "ensemble"}
    assert run.method == run.backtest["chosen"]


@pytest.mark.timeout(240)  # model fits on a shared host
async def test_a_second_night_replaces_the_first_and_p_alive_falls_from_its_peak(deps: Deps) -> None:
    await brand_in_database(150)
    await predict_everyone(deps)
    first = {p.customer_id: p.p_alive for p in await CustomerPrediction.all()}
    deps.clock.advance(timedelta(days=60))  # type: ignore[attr-defined]
    await predict_everyone(deps)
    second = await CustomerPrediction.all()
    assert len(second) == len(first) and await PredictionRun.all().count() == 2
    repeat = [p for p in second if p.p_alive_peak is not None]
    assert repeat and all(p.p_alive <= p.p_alive_peak + 1e-9 for p in repeat)
    # Sixty days without a purchase: repeat buyers look less alive (BG/NBD is refitted, so on average).
    assert sum(p.p_alive for p in repeat) < sum(first[p.customer_id] for p in repeat) - 0.05 * len(repeat)


def test_the_nightly_run_is_a_scheduled_tick(make_settings: Callable[..., Settings]) -> None:
    nightly = {t.name: t for t in ticks(make_settings())}["predict_nightly"]
    assert nightly.cron == "30 1 * * *"


@pytest.mark.timeout(240)  # model fits on a shared host
async def test_evaluate_from_the_database_back_tests_the_brands_own_history(deps: Deps, tmp_path: Any) -> None:
    """``scrm predict evaluate --at DATE --horizon 90d``: trained before DATE, scored at DATE, compared with what
    followed; the scores file has every customer who had bought by DATE."""
    import asyncio
    import csv
    import json
    import os
    import subprocess
    import sys

    from tests.test_cli import GOOD_ENV

    await brand_in_database(300)
    settings = deps.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "DATABASE_", "REDIS_"))}
    env |= GOOD_ENV | {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
                       "SCRM_REDIS_PREFIX": settings.scrm_redis_prefix}
    at = (NOW - timedelta(days=120)).date().isoformat()
    scores = tmp_path / "scores.csv"
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "predict", "evaluate", "--at", at, "--horizon", "90d", "--json",
                         "--scores", str(scores)],
        env=env, capture_output=True, text=True, timeout=120, cwd="/tmp", check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["at"] == at and result["horizon_days"] == 90
    assert set(result["methods"]) == {"model", "bgnbd", "rfm", "recency", "lifecycle", "ensemble"}
    assert result["chosen"] in result["methods"] and len(result["reliability"]) == 10
    assert result["methods"]["bgnbd"]["auc"] > 0.6
    with scores.open() as file:
        assert sum(1 for _ in csv.DictReader(file)) == result["customers"]


async def test_shop_signals_chat_words_and_channel_reach_the_model(deps: Deps, sim: Any) -> None:
    from zoneinfo import ZoneInfo

    from customers.models import ChatMessage
    from predict.features import snapshot
    from predict.source import load_history
    from tests.support.facts import craft_customer

    given = {"state": "store_sh01", "orders": [{"days_ago": 40, "amount": 300}],
             "signals": [{"type": "add_to_cart", "product": "P1", "days_ago": 2, "times": 2},
                         {"type": "browse", "product": "P1", "days_ago": 3, "times": 3}],
             "messages": ["这双还有货吗，多少钱？"]}
    shopper = await craft_customer(sim.state, given, NOW)
    await ChatMessage.create(msg_id="guide-reply", source="archive", from_id="guide_sh01_a", customer=shopper,
                             content="有货的，活动价多少钱都可以问我", sent_at=NOW - timedelta(days=1))
    history, pks = await load_history(ZoneInfo("Asia/Shanghai"))
    snap = snapshot(history, day_of(NOW.astimezone(ZoneInfo("Asia/Shanghai"))), 90)
    row = list(snap.rows).index(pks.index(shopper.id))
    facts = dict(zip(snap.names, snap.features[row], strict=True))
    assert facts["add_to_cart_30d"] == 2 and facts["browse_30d"] == 3
    assert facts["chat_30d"] == 1 and facts["chat_intent_30d"] == 1  # her words, not the guide's reply
    assert facts["channel"] >= 1


@pytest.mark.timeout(240)  # model fits on a shared host
async def test_the_nightly_tick_queues_a_run_that_a_worker_does(stack: Any) -> None:
    from bot.scheduler import Tick, fire

    await brand_in_database(120)
    assert await fire(stack.deps, Tick("predict_nightly", cron="30 1 * * *"))
    await stack.settle(within=180)  # a child process scores: slow on a busy host
    assert await CustomerPrediction.all().count() == await Customer.filter(order_count__gt=0).count() > 100
    assert await PredictionRun.all().count() == 1


@no_backend
def test_a_worker_takes_the_nightly_result_without_loading_the_models(tmp_path: Any) -> None:
    """The worker unpickles what the scoring child hands back: LightGBM and SciPy (~80 MB resident, for good)
    must stay in the child."""
    import pickle
    import subprocess
    import sys

    from predict.scoring import score_now

    history = synthetic_brand(60, days=400, start_day=day_of(NOW.date()) - 401, seed=5, signals=False)
    result = tmp_path / "scored.pickle"
    result.write_bytes(pickle.dumps(score_now(history, day_of(NOW.date()))))
    probe = ("import pickle, sys; import predict.service; scored = pickle.loads(open(sys.argv[1], 'rb').read()); "
             "print(len(scored.rows), sorted({'lightgbm', 'scipy', 'sklearn'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe, str(result)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 1)[1].strip() == "[]" and int(done.stdout.split(" ", 1)[0]) > 10


def _intervals(aucs: dict[str, float], spread: float) -> Any:
    """Methods scored on independent noise around the given AUCs: ``spread`` is each AUC's standard error."""
    import numpy as np

    from predict.intervals import AucIntervals

    names = tuple(aucs)
    return AucIntervals(names, np.array([aucs[n] for n in names]), np.eye(len(names)) * spread**2)


def test_the_simplest_method_the_best_cannot_be_told_from_ranks() -> None:
    from predict.choice import choose

    tied = {"model": 0.767, "ensemble": 0.767, "bgnbd": 0.763, "rfm": 0.766, "recency": 0.759, "lifecycle": 0.731}
    choice = choose(_intervals(tied, 0.002))
    assert (choice.best, choice.chosen) == ("model", "rfm")  # recency and lifecycle lie clearly below

    clear = dict(tied, ensemble=0.80, model=0.795)
    choice = choose(_intervals(clear, 0.003))
    # The ensemble is best but the model is within its interval and simpler, and it beats every rule clearly.
    assert choice.chosen == "model" and "within its 95% interval" in choice.reason

    wide = dict(tied, ensemble=0.80, model=0.70)
    assert choose(_intervals(wide, 0.003)).chosen == "ensemble"
    # A small brand: nothing can be told apart, so the simplest of all ranks.
    assert choose(_intervals(tied, 0.05)).chosen == "recency"
