"""Issue 27: ways to calibrate CDNOW's 39-week P(buy) when the history before the cut is as long as the horizon.

Each candidate maps the RFM score (the method the back-test chose before the stacked ensemble was
sized) to P(buy within the horizon), using only history up to the cut. Two runs per candidate:

- **in-window** (what a rule may be chosen by): the history cut at 1997-05-17 (day 136 of 272),
  predicting the 136 days after, up to 1997-09-30: the same horizon-to-history ratio as the real
  run, and every outcome inside the training window;
- **holdout** (reported, never chosen by; ``--holdout``): cut 1997-09-30, the 39 weeks after.

Figure: the largest gap between predicted and observed rates over ten groups by predicted P, as
``scrm predict evaluate`` reports it. Usage (about 3 minutes on 2 cores):

    .venv/bin/python -m bench.calibration_cdnow [--holdout]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, gammaln, logit

from predict.backtest import _learn_weight, _stretch_exponent, days_to_next
from predict.baselines import rfm_score
from predict.bgnbd import BgNbd, fit_bgnbd
from predict.calibration import brier, fit_isotonic, percentile, reliability
from predict.features import Snapshot, snapshot
from predict.history import History, day_of, read_orders_file

MASTER = Path(__file__).resolve().parent.parent / "tests" / "data" / "cdnow" / "CDNOW_master.txt.gz"
Arr = np.ndarray


class Case:
    def __init__(self, history: History, at: int, horizon: int) -> None:
        self.h, self.at, self.horizon = history, at, horizon
        self.first = int(history.day.min())
        self.test = snapshot(history, at, horizon)
        self.fit = fit_bgnbd(self.test.x, self.test.t_x, self.test.T)
        self.ts = percentile(rfm_score(self.test))
        self.th = round((at - self.first) / 3)  # predict.backtest.default_train_horizon

    def train(self, th: int) -> tuple[Snapshot, BgNbd, Arr]:
        train = snapshot(self.h, self.at - th, th)
        return train, fit_bgnbd(train.x, train.t_x, train.T, near=self.fit), percentile(rfm_score(train))


def stretched(case: Case, th: int, *, drift: bool = False, family: str = "blend",
              profile: Callable[[Snapshot, int, int], Arr] | None = None) -> Arr:
    """Isotonic on the training window's percentile (``th`` days of labels), stretched to the horizon."""
    train, train_fit, trs = case.train(th)
    p = fit_isotonic(trs, train.y_buy)(case.ts)
    if drift:  # how BG/NBD says the same percentile's chance moved between the two cuts
        then = fit_isotonic(trs, train_fit.p_buy(th / 7, train.x, train.t_x, train.T))(case.ts)
        now = fit_isotonic(case.ts, case.fit.p_buy(th / 7, case.test.x, case.test.t_x, case.test.T))(case.ts)
        p = 1 - (1 - p) ** (np.log1p(-np.clip(now, 0, 1 - 1e-9)) / np.log1p(-np.clip(then, 1e-9, 1 - 1e-9)))
    k_test = (profile(case.test, case.horizon, th) if profile
              else _stretch_exponent(case.fit, case.test, case.horizon, th))
    short = round(th * th / case.horizon)
    y_short = np.isfinite(days_to_next(case.h, train.cut, train.rows, short)).astype(np.float64)
    p_short = fit_isotonic(trs, y_short)(trs)
    k_train = _stretch_exponent(train_fit, train, th, short)
    if family == "blend":  # predict/backtest.py: between BG/NBD's profile and a constant rate
        w = _learn_weight(p_short, k_train, th / short, train.y_buy)
        k = np.exp((1 - w) * np.log(k_test) + w * np.log(case.horizon / th))
    elif family == "scale":  # 1 + s (k - 1), s learned the same way
        grid = np.linspace(0.5, 1.5, 41)
        losses = [brier(1 - (1 - p_short) ** (1 + s * (k_train - 1)), train.y_buy) for s in grid]
        k = 1 + grid[int(np.argmin(losses))] * (k_test - 1)
    else:  # "tenths": BG/NBD's profile times the ratio observed in-window, by tenth of the score
        order = np.argsort(trs, kind="stable")
        edges = np.array([(trs[part].max(), np.log1p(-train.y_buy[part].mean()) / np.log1p(-p_short[part].mean())
                           / np.exp(np.log(k_train[part]).mean())) for part in np.array_split(order, 10)])
        k = k_test * np.interp(case.ts, edges[:, 0], edges[:, 1])
    result: Arr = 1 - (1 - p) ** k
    return result


def longest(case: Case) -> int:
    """The longest whole-week label window whose training cut already has 90% of the cut's customers."""
    n = len(snapshot(case.h, case.at, 1).rows)
    for th in range(min(case.horizon, case.at - case.first), 0, -7):
        if len(snapshot(case.h, case.at - th, 1).rows) >= 0.9 * n:
            return th
    return 7


def anchored(case: Case) -> Arr:
    """The score's percentile mapped to BG/NBD's own P(buy within the horizon), fitted at the cut."""
    t = case.test
    result: Arr = fit_isotonic(case.ts, case.fit.p_buy(case.horizon / 7, t.x, t.t_x, t.T))(case.ts)
    return result


def pooled(case: Case, step: int = 28) -> Arr:
    """logit P = a + b logit P_bg + c percentile, fitted over in-window cuts every ``step`` days and two horizons."""
    xs, ys = [], []
    for cut in range(case.at - step, case.first + 28, -step):
        s = snapshot(case.h, cut, case.at - cut)
        f = fit_bgnbd(s.x, s.t_x, s.T, near=case.fit)
        nd = days_to_next(case.h, cut, s.rows, case.at - cut)
        pct = percentile(rfm_score(s))
        for days in sorted({case.at - cut, (case.at - cut) // 2}):
            if days >= 14:
                pb = np.clip(f.p_buy(days / 7, s.x, s.t_x, s.T), 1e-4, 1 - 1e-4)
                xs.append(np.column_stack([np.ones(len(pb)), logit(pb), pct - 0.5]))
                ys.append((nd <= days).astype(np.float64))
    x, y = np.vstack(xs), np.concatenate(ys)
    b = minimize(lambda v: float(np.sum(np.logaddexp(0, x @ v) - y * (x @ v))), np.array([0.0, 1.0, 0.0]),
                 method="L-BFGS-B").x
    t = case.test
    pb = np.clip(case.fit.p_buy(case.horizon / 7, t.x, t.t_x, t.T), 1e-4, 1 - 1e-4)
    result: Arr = fit_isotonic(case.ts, expit(b[0] + b[1] * logit(pb) + b[2] * (case.ts - 0.5)))(case.ts)
    return result


def mbg_profile(case: Case) -> Callable[[Snapshot, int, int], Arr]:
    """MBG/NBD (Batislam et al. 2007): one-time buyers may have left too, unlike BG/NBD's P(alive) = 1."""
    t = case.test

    def nll(lp: Arr) -> float:
        r, alpha, a, b = np.exp(lp)
        x, tx, T = t.x, t.t_x, t.T
        ll = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + gammaln(a + b) + gammaln(b + x + 1) - gammaln(b)
              - gammaln(a + b + x + 1) - (r + x) * np.log(alpha + T)
              + np.logaddexp(np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)), 0))
        value = -float(np.sum(ll))
        return value if np.isfinite(value) else 1e300

    best = min((minimize(nll, minimize(nll, s, method="Nelder-Mead", options={"maxiter": 4000}).x,
                         method="L-BFGS-B") for s in (np.zeros(4), np.log([0.5, 5.0, 1.0, 3.0]))),
               key=lambda res: res.fun)
    r, alpha, a, b = np.exp(best.x)

    def p_buy(s: Snapshot, days: float) -> Arr:
        alive = 1 / (1 + a / (b + s.x) * ((alpha + s.T) / (alpha + s.t_x)) ** (r + s.x))
        result: Arr = alive * (1 - ((alpha + s.T) / (alpha + s.T + days / 7)) ** (r + s.x))
        return np.clip(result, 0, 1 - 1e-12)

    def profile(s: Snapshot, long: int, short: int) -> Arr:
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.log1p(-p_buy(s, long)) / np.log1p(-p_buy(s, short))
        result: Arr = np.where(np.isfinite(k) & (k > 0), k, long / short)
        return result

    return profile


def run(case: Case) -> None:
    y = case.test.y_buy
    th, lt = case.th, longest(case)
    candidates: dict[str, Callable[[], Arr]] = {
        f"last third ({th} d), BG/NBD stretch (the product)": lambda: stretched(case, th),
        f"last quarter ({round(th * 3 / 4)} d)": lambda: stretched(case, round(th * 3 / 4)),
        f"last half ({round(th * 3 / 2)} d)": lambda: stretched(case, round(th * 3 / 2)),
        f"longest window, 90% of customers ({lt} d)": lambda: stretched(case, lt),
        "BG/NBD's own P(buy), by percentile": lambda: anchored(case),
        "pooled Platt over in-window cuts": lambda: pooled(case),
        "last third + BG/NBD drift between cuts": lambda: stretched(case, th, drift=True),
        "last third, MBG/NBD profile": lambda: stretched(case, th, profile=mbg_profile(case)),
        "last third, profile 1 + s(k - 1)": lambda: stretched(case, th, family="scale"),
        "last third, profile x in-window ratio by tenth": lambda: stretched(case, th, family="tenths"),
    }
    for name, make in candidates.items():
        p = make()
        gaps = [r["predicted"] - r["observed"] for r in reliability(p, y)]
        print(f"  {name:48s} largest gap {max(abs(g) for g in gaps):.3f}  Brier {brier(p, y):.4f}  "
              + " ".join(f"{g:+.2f}" for g in gaps), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdout", action="store_true", help="also the 39-week holdout (report only)")
    args = parser.parse_args()
    history = read_orders_file(MASTER)
    at = day_of(date(1997, 9, 30))
    first = int(history.day.min())
    inner = first + round((at - first) ** 2 / (2 * (at - first) + 1))  # the same horizon-to-history ratio
    print(f"in-window: cut {inner - first} days after the first purchase, {at - inner} days ahead")
    run(Case(history, inner, at - inner))
    if args.holdout:
        print("holdout (report only): cut 1997-09-30, 273 days ahead")
        run(Case(history, at, 273))


if __name__ == "__main__":
    main()
