"""Purchase predictions (issue 19): training and scoring time and peak memory at 1,000,000 customers,
and what shop and chat signals add (SYNTHETIC data).

    .venv/bin/python -m bench.predict [--customers 1000000] [--signals-customers 50000]

1. A synthetic brand (``predict/synthetic.py``) of N customers over two years (purchases only, so
   the arrays of a million customers stay small). Timed separately: training (on a 200k sample:
   features at today - 90 d, the stacked classifier, the model's classifier and Poisson regressor,
   BG/NBD on a 100k sample) and scoring everyone (features today, BG/NBD's inputs and figures, the
   stacked model, counts, calibration, ranks), then the whole nightly compute (``score_now``:
   back-test with intervals + calibration, training, scoring, reasons). Peak RSS of the process.
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
from predict.bgnbd import fit_bgnbd, fit_gamma_gamma
from predict.calibration import fit_isotonic, percentile
from predict.features import Snapshot, snapshot
from predict.history import Events, History
from predict.model import train_gbm
from predict.scoring import REASON_CUSTOMERS, TRAIN_CUSTOMERS, score_now
from predict.stack import stacked
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
    train = snapshot(history.sample(TRAIN_CUSTOMERS), TODAY - 90, 90)
    bg = fit_bgnbd(*_bg(snapshot(history, TODAY, 90)))
    train_stack, _ = stacked(train, 90, near=bg)
    ensemble = train_gbm(train_stack, counts=False)
    model90 = train_gbm(train)
    training = time.perf_counter() - t
    print(f"training (BG/NBD on a 100k sample, the stacked classifier and the model's classifier + Poisson "
          f"regressor on {len(train.rows):,} rows): {training:.1f}s")

    t, cpu = time.perf_counter(), time.process_time()
    now = snapshot(history, TODAY, 90)
    now_stack, _ = stacked(now, 90, bg)
    x, t_x, big_t = now.x, now.t_x, now.T
    p_ens = ensemble.p_buy(now_stack)
    count = model90.count(now, 90)
    alive = bg.p_alive(x, t_x, big_t)
    bg_p90, bg_p30 = bg.p_buy(90 / 7, x, t_x, big_t), bg.p_buy(30 / 7, x, t_x, big_t)
    next_days = bg.time_to_p(0.5, x, t_x, big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_repeat = np.where(x > 0, (now.column("value") - now.column("first_value")) / x, 0.0)
    spend = count * fit_gamma_gamma(x, mean_repeat).expected_spend(x, mean_repeat)
    rank = percentile(p_ens)
    p90 = fit_isotonic(percentile(bg_p90), (bg_p90 > 0.5).astype(np.float64))(rank)  # calibration's cost only
    scoring, scoring_cpu = time.perf_counter() - t, time.process_time() - cpu
    assert len(p90) == len(bg_p30) == len(alive) == len(spend) == len(next_days) == len(rank)
    # CPU seconds (all threads) say what an idle 2-core host would take, whatever the load of a shared one.
    print(f"scoring {len(now.rows):,} customers (features today, BG/NBD's stacked inputs and figures, the stacked "
          f"model, counts, calibration, ranks): {scoring:.1f}s wall, {scoring_cpu:.1f}s CPU")

    t = time.perf_counter()
    scored = score_now(history, TODAY)
    nightly = time.perf_counter() - t
    print(f"whole nightly compute (back-test of 6 methods on 200k with intervals and calibration, training on 200k, "
          f"scoring, reasons for the best {REASON_CUSTOMERS:,}), chosen {scored.method}: {nightly:.1f}s")
    print(f"peak RSS {rss_mb():,.0f} MB; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def _bg(snap: Snapshot) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return snap.x, snap.t_x, snap.T


def signals(customers: int) -> None:
    history = synthetic_brand(customers, days=DAYS, start_day=START, seed=1)
    bare = History(history.ids, history.customer, history.day, history.amount, history.quantity,
                   np.zeros_like(history.channel), Events.empty())
    print(f"\nSYNTHETIC signals: {customers:,} customers, {len(history.events.day):,} events")
    print("| horizon | features | model AUC | ensemble AUC | lift@10% | BG/NBD AUC | RFM AUC | lifecycle AUC "
          "| chosen |")
    print("|---|---|---|---|---|---|---|---|---|")
    for horizon in (30, 90):
        for label, data in (("purchases only", bare), ("+ browse/cart/coupon/chat, channel", history)):
            found = evaluate(data, TODAY - horizon, horizon)
            m = found.methods
            print(f"| {horizon} d | {label} | {m['model']['auc']:.3f} | {m['ensemble']['auc']:.3f} | "
                  f"{m['model']['lift10']:.2f} | {m['bgnbd']['auc']:.3f} | {m['rfm']['auc']:.3f} | "
                  f"{m['lifecycle']['auc']:.3f} | {found.chosen} |")


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
