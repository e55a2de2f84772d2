"""Purchase predictions (issue 19): training and scoring time and peak memory at 1,000,000 customers,
and what shop and chat signals add (SYNTHETIC data).

    .venv/bin/python -m bench.predict [--customers 1000000] [--signals-customers 50000]

1. A synthetic brand (``predict/synthetic.py``) of N customers over two years (purchases only, so
   the arrays of a million customers stay small). Timed separately: training (features at
   today - 90 d, the LightGBM classifier and Poisson regressor, BG/NBD on a 100k sample, Gamma-Gamma) and
   scoring (features today, both models, BG/NBD figures, ranks), then the whole nightly compute
   (``score_now``: back-test + training + scoring + the per-customer "why"). Peak RSS of the process.
2. SYNTHETIC signals: a smaller brand with browse / cart / coupon / chat events, back-tested with
   and without them (same customers, same purchases).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from predict.backtest import evaluate
from predict.baselines import rfm_score
from predict.bgnbd import fit_bgnbd, fit_gamma_gamma
from predict.features import snapshot
from predict.history import Events, History
from predict.model import train_gbm
from predict.scoring import score_now
from predict.synthetic import synthetic_brand

START, DAYS = 19_000, 730
TODAY = START + DAYS


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale(customers: int) -> None:
    t = time.perf_counter()
    history = synthetic_brand(customers, days=DAYS, start_day=START, signals=False)
    print(f"generated {customers:,} customers, {len(history.day):,} purchase days in {time.perf_counter() - t:.1f}s")

    t = time.perf_counter()
    model90 = train_gbm(snapshot(history, TODAY - 90, 90))
    now = snapshot(history, TODAY, 90)
    bg = fit_bgnbd(now.x, now.t_x, now.T)
    x = now.x
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_repeat = np.where(x > 0, (now.column("value") - now.column("first_value")) / x, 0.0)
    gg = fit_gamma_gamma(x, mean_repeat)
    training = time.perf_counter() - t
    print(f"training (LightGBM classifier + Poisson regressor on {len(now.rows):,} rows, BG/NBD, Gamma-Gamma): "
          f"{training:.1f}s")

    t = time.perf_counter()
    now = snapshot(history, TODAY, 90)
    p90, count = model90.p_buy(now), model90.count(now, 90)
    p30 = p90 * bg.p_buy(30 / 7, now.x, now.t_x, now.T) / np.maximum(bg.p_buy(90 / 7, now.x, now.t_x, now.T), 1e-12)
    alive = bg.p_alive(now.x, now.t_x, now.T)
    spend = count * gg.expected_spend(now.x, mean_repeat)
    next_days = bg.time_to_p(0.5, now.x, now.t_x, now.T)
    rank = rfm_score(now)
    scoring = time.perf_counter() - t
    assert len(p90) == len(p30) == len(alive) == len(spend) == len(next_days) == len(rank)
    print(f"scoring {len(now.rows):,} customers (features, both models, BG/NBD figures, RFM): {scoring:.1f}s")

    t = time.perf_counter()
    scored = score_now(history, TODAY)
    nightly = time.perf_counter() - t
    print(f"whole nightly compute (back-test on 200k + training + scoring + why), method {scored.method}: "
          f"{nightly:.1f}s")
    print(f"peak RSS {rss_mb():,.0f} MB; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def signals(customers: int) -> None:
    history = synthetic_brand(customers, days=DAYS, start_day=START, seed=1)
    bare = History(history.ids, history.customer, history.day, history.amount, history.quantity,
                   np.zeros_like(history.channel), Events.empty())
    print(f"\nSYNTHETIC signals: {customers:,} customers, {len(history.events.day):,} events")
    print("| horizon | features | model AUC | lift@10% | BG/NBD AUC | RFM AUC | lifecycle AUC |")
    print("|---|---|---|---|---|---|---|")
    for horizon in (30, 90):
        for label, data in (("purchases only", bare), ("+ browse/cart/coupon/chat, channel", history)):
            m = evaluate(data, TODAY - horizon, horizon).methods
            print(f"| {horizon} d | {label} | {m['model']['auc']:.3f} | {m['model']['lift10']:.2f} | "
                  f"{m['bgnbd']['auc']:.3f} | {m['rfm']['auc']:.3f} | {m['lifecycle']['auc']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--signals-customers", type=int, default=50_000)
    args = parser.parse_args()
    if args.customers:
        scale(args.customers)
    if args.signals_customers:
        signals(args.signals_customers)


if __name__ == "__main__":
    main()
