"""Purchase predictions on real public data: CDNOW (Fader, Hardie & Lee 2005), through ``scrm predict evaluate``.

Protocol: calibrate through 1997-09-30 and predict who buys in the next 39 weeks; the model is
trained on the 13 weeks before the cut, never on what it predicts (the default training window for a
horizon longer than the last third of the history: ``predict.backtest.default_train_horizon``). The
files are the ones shipped in the ``lifetimes`` 0.11.3 wheel (tests/data/cdnow/, gzip-compressed).
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from predict.bgnbd import fit_gamma_gamma
from predict.features import snapshot
from predict.history import day_of, read_orders_file
from tests.conftest import no_backend

DATA = Path(__file__).parent / "data" / "cdnow"
MASTER, SAMPLE = DATA / "CDNOW_master.txt.gz", DATA / "CDNOW_sample.txt.gz"
PROTOCOL = ["--at", "1997-09-30", "--horizon", "39w", "--train-horizon", "13w"]
AT = day_of(date(1997, 9, 30))
# No database here: the same figures on either backend, so they run once.
pytestmark = no_backend


def scrm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=400,
                          check=False)


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, Path]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("cdnow")
    scores, chart = out / "scores.csv", out / "deciles.png"
    # No --train-horizon: the default for a 39-week horizon on 39 weeks of history is the protocol's 13 weeks.
    done = scrm("predict", "evaluate", "--orders", str(MASTER), "--at", "1997-09-30", "--horizon", "39w", "--json",
                "--scores", str(scores), "--chart", str(chart))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["train_horizon_days"] == 91
    return result, scores, chart


@pytest.mark.slow
@pytest.mark.timeout(420)  # a subprocess fits BG/NBD and LightGBM on 23,570 customers; slow on a shared host
def test_the_model_ranks_next_period_buyers_as_well_as_the_anchors(master) -> None:  # type: ignore[no-untyped-def]
    methods = master[0]["methods"]
    model = methods["model"]
    assert master[0]["customers"] == 23570
    assert model["auc"] >= 0.76
    assert model["lift10"] >= 2.6
    assert model["auc"] >= methods["rfm"]["auc"] - 0.01
    assert model["auc"] >= methods["lifecycle"]["auc"] + 0.03
    assert set(methods) == {"model", "bgnbd", "rfm", "recency", "lifecycle", "ensemble"}
    for name in methods:
        assert {"auc", "auc_ci", "p10", "lift10", "rev10", "agg_err", "rmse"} <= set(methods[name])
        low, high = methods[name]["auc_ci"]
        assert low < methods[name]["auc"] < high and high - low < 0.03  # 23,570 customers: about ±0.007


@pytest.mark.slow
@pytest.mark.timeout(420)  # a subprocess fits BG/NBD and LightGBM on 23,570 customers; slow on a shared host
def test_the_model_counts_purchases_within_the_gates(master) -> None:  # type: ignore[no-untyped-def]
    model = master[0]["methods"]["model"]
    assert abs(model["agg_err"]) <= 0.15
    assert model["rmse"] <= 1.75
    # The lifecycle rule's run-rate forecast is what it replaces: it over-forecasts by about 31%.
    assert master[0]["methods"]["lifecycle"]["agg_err"] > 0.25


@pytest.mark.slow
@pytest.mark.timeout(420)  # a subprocess fits BG/NBD and LightGBM on 23,570 customers; slow on a shared host
def test_every_customer_has_a_score_per_method_and_the_chart_is_a_png(master) -> None:  # type: ignore[no-untyped-def]
    _, scores, chart = master
    with scores.open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 23570
    assert list(rows[0]) == ["customer_id", "model", "bgnbd", "rfm", "recency", "lifecycle", "ensemble", "p_buy"]
    # The default training window fits in the history, so every customer's chance is calibrated (it was left
    # empty when the default was the 39-week horizon itself, which left no training labels).
    assert all(row["p_buy"] != "" for row in rows)
    p_buy = np.array([float(row["p_buy"]) for row in rows])
    assert ((p_buy >= 0) & (p_buy <= 1)).all() and 0.2 < p_buy.mean() < 0.4  # 30% bought in the 39 weeks
    assert master[0]["calibration"] == {
        "calibrated": True, "label_days": 91, "stretched_to_days": 273, "how": master[0]["calibration"]["how"]}
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(chart.read_bytes()) > 5000


@pytest.mark.slow
@pytest.mark.timeout(420)  # a subprocess fits BG/NBD and LightGBM on 23,570 customers; slow on a shared host
def test_a_tie_on_noise_does_not_rank_and_a_win_beyond_it_does(master) -> None:  # type: ignore[no-untyped-def]
    """The model's 0.767 against RFM's 0.766 is noise: the paired difference's interval holds zero, so the model
    cannot rank. The stacked ensemble, its size chosen on the training window only, beats every simpler method
    with an interval above zero (0.772; against RFM +0.005 [+0.003, +0.008]), so it ranks, and the JSON says why."""
    result = master[0]
    model_vs_rfm = result["differences"]["model-rfm"]
    low, high = model_vs_rfm["ci"]
    assert low < 0 < high and abs(model_vs_rfm["auc_diff"]) < 0.005
    assert result["chosen"] == "ensemble" and result["uses_model"] is True
    assert "interval above zero" in result["why_chosen"]
    for simpler in ("bgnbd", "rfm", "recency", "lifecycle"):  # keys are "a-b" in METHODS order: ensemble is last
        assert result["differences"][f"{simpler}-ensemble"]["ci"][1] < 0
    tuning = result["ensemble_tuning"]
    assert tuning["num_leaves"] in (4, 15) and tuning["rounds"] in (50, 100, 150, 200, 300)
    assert 0.7 < tuning["validation_auc"] < 0.8
    assert len(result["differences"]) == 15  # every pair of the six methods


@pytest.mark.slow
@pytest.mark.timeout(420)  # a subprocess fits BG/NBD and LightGBM on 23,570 customers; slow on a shared host
def test_the_calibrated_chance_of_buying_comes_true_by_tenths() -> None:
    """Trained and calibrated on the 13 weeks before 1997-09-30, P(buy in the next 13 weeks): every tenth of
    customers buys within 5 points of the rate it was given, and the Brier score beats the base rate's."""
    done = scrm("predict", "evaluate", "--orders", str(MASTER), "--at", "1997-09-30", "--horizon", "13w", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    table = result["reliability"]
    assert len(table) == 10 and sum(row["customers"] for row in table) == 23570
    assert [row["predicted"] for row in table] == sorted(row["predicted"] for row in table)
    assert max(abs(row["predicted"] - row["observed"]) for row in table) <= 0.05
    assert result["brier"] < result["base_rate_brier"] - 0.02


def _largest_gap(result: dict) -> float:  # type: ignore[type-arg]
    table = result["reliability"]
    assert len(table) == 10 and sum(row["customers"] for row in table) == 23570
    assert [row["predicted"] for row in table] == sorted(row["predicted"] for row in table)
    return max(abs(row["predicted"] - row["observed"]) for row in table)


@pytest.mark.slow
@pytest.mark.timeout(420)  # a subprocess fits BG/NBD and LightGBM on 23,570 customers; slow on a shared host
def test_the_39_week_chance_of_buying_stays_near_what_happened_by_tenths(master) -> None:  # type: ignore[no-untyped-def]
    """The chosen (ensemble) score calibrated on the 13 weeks before 1997-09-30 and stretched to 39 by BG/NBD's
    time profile: every tenth within 9 points of its rate (8.2 measured; 6.3 when RFM ranked), and a Brier score
    below the base rate's."""
    assert _largest_gap(master[0]) <= 0.09
    assert master[0]["brier"] < master[0]["base_rate_brier"] - 0.03


@pytest.mark.slow
@pytest.mark.timeout(420)  # a subprocess fits BG/NBD and LightGBM on 23,570 customers; slow on a shared host
@pytest.mark.xfail(strict=True, reason="issue 27's gate, not met: 8.2 points (bench/RESULTS.md §16); strict, so "
                   "a calibration that meets it must remove this mark")
def test_the_39_week_chance_of_buying_is_within_5_points_by_tenths(master) -> None:  # type: ignore[no-untyped-def]
    assert _largest_gap(master[0]) <= 0.05


def test_a_training_window_too_short_to_calibrate_says_so_and_leaves_p_buy_empty(tmp_path: Path) -> None:
    """Everyone first bought three days before the cut: the default training window (a day) has no buyers,
    so there is no chance to calibrate; evaluate says why instead of printing NaN, and p_buy stays empty."""
    from predict.backtest import default_train_horizon, evaluate
    from predict.cli import _write_scores, format_table
    from predict.history import read_orders_file as read

    orders = tmp_path / "orders.txt"
    orders.write_text("".join(f"{i:05d} 19970101 1 10.00\n" + (f"{i:05d} 19970415 1 12.00\n" if i % 2 else "")
                              for i in range(60)))
    history = read(orders)
    at = day_of(date(1997, 1, 4))
    assert default_train_horizon(history, at, 273) == 1
    evaluation = evaluate(history, at, 273)
    result = json.loads(json.dumps(evaluation.as_json()))
    assert result["calibration"]["calibrated"] is False
    assert "too few to calibrate" in result["calibration"]["why_not"]
    assert result["brier"] is None and result["reliability"] == []
    assert "no calibrated P(buy within 273 days)" in format_table(evaluation) and "nan" not in format_table(evaluation)
    _write_scores(tmp_path / "scores.csv", evaluation)
    with (tmp_path / "scores.csv").open() as file:
        assert {row["p_buy"] for row in csv.DictReader(file)} == {""}


def test_the_default_training_window_is_the_horizon_or_the_last_third_of_the_history() -> None:
    from predict.backtest import default_train_horizon

    history = read_orders_file(SAMPLE)  # first purchase 1997-01-01: 272 days before the cut
    assert default_train_horizon(history, AT, 273) == 91  # the published protocol's 13 weeks
    assert default_train_horizon(history, AT, 91) == 91
    assert default_train_horizon(history, AT, 30) == 30
    assert default_train_horizon(history, AT - 136, 136) == 45


@pytest.fixture(scope="module")
def sample() -> dict:  # type: ignore[type-arg]
    done = scrm("predict", "evaluate", "--orders", str(SAMPLE), *PROTOCOL, "--json")
    assert done.returncode == 0, done.stderr
    result: dict = json.loads(done.stdout)  # type: ignore[type-arg]
    return result


@pytest.mark.slow
@pytest.mark.timeout(420)  # a subprocess fits BG/NBD and LightGBM on 23,570 customers; slow on a shared host
def test_bgnbd_reproduces_the_paper_on_the_2357_customer_sample(sample) -> None:  # type: ignore[no-untyped-def]
    result = sample
    assert result["customers"] == 2357
    fit = result["bgnbd_params"]
    assert round(fit["r"], 3) == 0.243
    assert round(fit["alpha"], 3) == 4.414
    assert round(fit["a"], 3) == 0.793
    assert round(fit["b"], 3) == 2.426
    assert round(fit["log_likelihood"], 1) == -9582.4


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_where_the_model_trails_a_method_the_back_test_cannot_tell_from_the_best_ranks(sample) -> None:  # type: ignore[no-untyped-def]
    """On the 2,357-customer sample the model trails (0.750 against RFM's 0.776, interval below zero): it
    must not rank, and neither may any method whose interval lies below the best's."""
    methods, differences = sample["methods"], sample["differences"]
    best = max(methods, key=lambda name: methods[name]["auc"])
    chosen = sample["chosen"]
    assert chosen not in ("model", "ensemble", "lifecycle")
    if chosen != best:
        key = f"{best}-{chosen}" if f"{best}-{chosen}" in differences else f"{chosen}-{best}"
        low, high = differences[key]["ci"]
        assert low <= 0 <= high
    assert differences["model-rfm"]["ci"][1] < 0  # the model's loss is real here


def test_gamma_gamma_reproduces_the_spend_model_on_the_sample() -> None:
    """Fader, Hardie & Lee's Gamma-Gamma on the same 946 repeat buyers: p 6.25, q 3.74, γ 15.44."""
    snap = snapshot(read_orders_file(SAMPLE), day_of(__import__("datetime").date(1997, 9, 30)), 273)
    x = snap.x
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_repeat = np.where(x > 0, (snap.column("value") - snap.column("first_value")) / x, 0.0)
    fit = fit_gamma_gamma(x, mean_repeat)
    assert int((x > 0).sum()) == 946
    assert (round(fit.p, 2), round(fit.q, 2), round(fit.gamma, 1)) == (6.25, 3.74, 15.4)


@pytest.mark.timeout(240)
def test_our_orders_csv_reads_like_cdnow(tmp_path: Path, sample) -> None:  # type: ignore[no-untyped-def]
    """The same customers in ``scrm import orders`` format (two lines per order) give the same table."""
    ours = tmp_path / "orders.csv"
    with gzip.open(SAMPLE, "rt") as cdnow, ours.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "external_userid", "amount", "paid_at", "product_id"])
        for number, line in enumerate(cdnow):
            cid, _, ymd, _, dollars = line.split()
            paid = f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}T12:00:00+08:00"
            for item in ("a", "b"):
                writer.writerow([f"o{number}", f"wm{cid}", dollars, paid, item])
    a = scrm("predict", "evaluate", "--orders", str(ours), *PROTOCOL, "--json")
    assert a.returncode == 0, a.stderr
    mine, theirs = json.loads(a.stdout)["methods"], sample["methods"]
    for name in ("bgnbd", "rfm", "recency", "lifecycle"):
        assert mine[name]["auc"] == pytest.approx(theirs[name]["auc"], abs=1e-6)


def test_a_broken_file_is_named_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("00001 19970101 1 11.77\n00002 1997-01-12 x\n")
    done = scrm("predict", "evaluate", "--orders", str(bad))
    assert done.returncode == 2
    assert "line 2" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_sample_of_customers_keeps_each_ones_whole_history() -> None:
    """The nightly back-test of a large brand runs on a sample of customers (``History.sample``)."""
    full = read_orders_file(MASTER)
    part = full.sample(2000, seed=1)
    assert part.size == 2000 and len(set(part.ids)) == 2000
    for i in (0, 999, 1999):
        j = full.ids.index(part.ids[i])
        assert list(part.day[part.customer == i]) == list(full.day[full.customer == j])
        assert list(part.amount[part.customer == i]) == list(full.amount[full.customer == j])
