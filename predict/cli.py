"""``scrm predict``: back-test the methods (``evaluate``), score everyone now (``run``), show one (``show``)."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import config
from bot.clikit import SubParsers, settings, setup
from bot.configfiles import ConfigError
from bot.csvfiles import csv_writer

if TYPE_CHECKING:  # numpy, scipy and LightGBM load only when a predict command runs, not for every ``scrm``
    from predict.backtest import Evaluation
    from predict.history import History

__all__ = ["SHIPPED_CONFIG", "add_command", "add_arguments", "run", "parse_days", "format_table"]

# Where the chart's words are read when no settings are (``--orders``: a file, no database): the shipped config/.
SHIPPED_CONFIG = Path(config.__file__).resolve().parent


def parse_days(text: str) -> int:
    """``90d``, ``13w`` or a plain number of days."""
    text = text.strip().lower()
    unit = 7 if text.endswith("w") else 1
    number = text.rstrip("dw")
    if not number.isdigit() or int(number) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: use days like 90d or weeks like 13w")
    return int(number) * unit


def add_command(sub: SubParsers) -> None:
    """``scrm predict``, added by the CLI from its feature's ``cli`` slot (bot/feature.py)."""
    predict = sub.add_parser("predict", help="purchase predictions: evaluate (back-test), run, report, show")
    add_arguments(predict)
    predict.set_defaults(run=_predict)


def _predict(args: argparse.Namespace) -> int:
    if args.orders:  # a file: no database, no settings needed
        return run(args)
    loaded = setup()
    return run(args, timezone=loaded.scrm_timezone, chart_font=loaded.scrm_chart_font,
               config_dir=loaded.scrm_config_dir)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["evaluate", "run", "report", "show"])
    parser.add_argument("external_userid", nargs="?", default="", help="show: the customer")
    parser.add_argument("--at", default="", help="evaluate: the day scored (default: the latest day with a full "
                        "horizon after it)")
    parser.add_argument("--horizon", type=parse_days, default=90, help="the predicted window: 90d, 39w …")
    parser.add_argument("--train-horizon", type=parse_days, default=None,
                        help="the model's training-label window, on which P(buy) is also calibrated (default: the "
                        "horizon, or the last third of the history before --at when the horizon is longer); counts "
                        "are scaled")
    # The caps are predict/history.py's MAX_ORDERS_* (not imported here: it loads numpy for every ``scrm``).
    parser.add_argument("--orders", default="", help="back-test a file (CDNOW's format or ours, gzip or not), no "
                        "database; at most 1 GiB decompressed, 5,000,000 rows, 64 KiB a line")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument("--scores", default="", help="write every customer's score per method to this CSV")
    parser.add_argument("--chart", default="", help="write the decile chart (PNG) here")


def format_table(evaluation: Evaluation) -> str:
    from predict.backtest import METHODS

    head = (f"{'method':<12}{'AUC':>7}{'95% interval':>16}{'P@10%':>8}{'lift@10%':>10}{'rev@10%':>9}{'agg err':>9}"
            f"{'RMSE':>7}")
    lines = [
        f"back-test at {evaluation.at_date}: {evaluation.customers} customers, {evaluation.buyers} bought in the next "
        f"{evaluation.horizon} days (model trained on the {evaluation.train_horizon} days before)",
        head,
    ]

    def cell(value: float, spec: str, width: int) -> str:
        return f"{'-':>{width}}" if math.isnan(value) else f"{format(value, spec):>{width}}"

    for name in METHODS:
        m = evaluation.methods[name]
        low, high = evaluation.intervals.interval(name)
        interval = f"[{low:.3f}, {high:.3f}]" if not math.isnan(low) else "-"
        lines.append(f"{name:<12}{cell(m['auc'], '.3f', 7)}{interval:>16}{cell(m['p10'], '.3f', 8)}"
                     f"{cell(m['lift10'], '.2f', 10)}{cell(m['rev10'], '.3f', 9)}{cell(m['agg_err'], '+.1%', 9)}"
                     f"{cell(m['rmse'], '.3f', 7)}")
    p = evaluation.bgnbd
    lines.append(f"BG/NBD fit: r={p.r:.3f} alpha={p.alpha:.3f} a={p.a:.3f} b={p.b:.3f} LL={p.log_likelihood:.1f}")
    lines.append(f"chosen: {evaluation.chosen} ({evaluation.choice.reason})")
    if evaluation.calibrated:
        how = evaluation.calibration()["how"]
        lines.append(f"calibrated P(buy within {evaluation.horizon} days) ({how}): Brier {evaluation.brier:.4f}; by "
                     "tenths, predicted / observed: " + ", ".join(f"{r['predicted']:.0%}/{r['observed']:.0%}"
                                                                  for r in evaluation.reliability()))
    else:
        lines.append(f"no calibrated P(buy within {evaluation.horizon} days): {evaluation.uncalibrated}")
    return "\n".join(lines)


def _write_scores(path: Path, evaluation: Evaluation) -> None:
    from predict.backtest import METHODS

    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv_writer(out)  # customer ids come from the brand's file: formulas escaped
        writer.writerow(["customer_id", *METHODS, "p_buy"])
        columns = [*(evaluation.scores[name] for name in METHODS), evaluation.p_buy]
        for i, customer in enumerate(evaluation.ids):
            # A chance the training window could not calibrate (too few customers before the cut, see
            # evaluate's "calibration") is left empty, never written as "nan".
            writer.writerow([customer, *(f"{column[i]:.6g}" if math.isfinite(column[i]) else "" for column in columns)])


def _write_chart(path: Path, evaluation: Evaluation, font: str, config_dir: Path) -> None:
    from bot.templates import load as load_templates  # every feature's ids checked, these among them
    from predict.chart import ChartWords, render_chart
    from predict.config import LABEL_TEXTS

    templates = load_templates(config_dir, {})
    words = ChartWords(
        title=templates.render("predict_chart_title", date=evaluation.at_date, days=evaluation.horizon),
        note=templates.render("predict_chart_note"),
        labels={name: templates.render(template_id) for name, template_id in LABEL_TEXTS.items()},
        deciles=[templates.render("predict_chart_decile", number=n) for n in range(1, 11)],
        reliability_title=templates.render("predict_chart_reliability_title", days=evaluation.horizon,
                                           brier=f"{evaluation.brier:.3f}" if evaluation.calibrated else "-"),
        reliability_note=templates.render("predict_chart_reliability_note"),
    )
    path.write_bytes(render_chart(evaluation.deciles, evaluation.reliability(), words, font))


def _day(text: str, tz: ZoneInfo) -> int:
    from predict.history import day_of

    try:
        return day_of(date.fromisoformat(text))
    except ValueError:
        return day_of(datetime.fromisoformat(text), tz)


def run(args: argparse.Namespace, *, timezone: str = "Asia/Shanghai", chart_font: str = "",
        config_dir: Path = SHIPPED_CONFIG) -> int:
    """``scrm predict evaluate``: the table (or JSON), plus the scores CSV and the chart when asked (its words
    from ``config_dir``'s templates); ``run``: the nightly run now; ``report``: expected 90-day sales per
    store; ``show``: one customer."""
    if args.action != "evaluate":
        return asyncio.run(_with_database(args))
    from predict.backtest import evaluate
    from predict.history import HistoryError, read_orders_file

    tz = ZoneInfo(timezone)
    if args.orders:
        try:
            history = read_orders_file(Path(args.orders), tz)
        except (OSError, HistoryError) as err:
            print(f"scrm predict: {args.orders}: {err}", file=sys.stderr)
            return 2
    else:
        history = asyncio.run(_load_from_database())
    try:
        at = _day(args.at, tz) if args.at else _default_at(history, args.horizon, tz, from_file=bool(args.orders))
        evaluation = evaluate(history, at, args.horizon, args.train_horizon)
    except ValueError as err:
        print(f"scrm predict: {err}", file=sys.stderr)
        return 2
    try:
        if args.scores:
            _write_scores(Path(args.scores), evaluation)
        if args.chart:
            from boards.chart import chart_font_path

            _write_chart(Path(args.chart), evaluation, chart_font_path(chart_font), config_dir)
    except (OSError, ConfigError) as err:  # a directory that does not exist, a broken templates file
        print(f"scrm predict: {err}", file=sys.stderr)
        return 2
    if args.json:
        import orjson

        print(orjson.dumps(evaluation.as_json()).decode())
    else:
        print(format_table(evaluation))
    return 0


def _default_at(history: History, horizon: int, tz: ZoneInfo, *, from_file: bool) -> int:
    from predict.history import day_of

    last = history.last_day if from_file else day_of(datetime.now(tz))
    return last - horizon


async def _with_database(args: argparse.Namespace) -> int:
    from bot.app import open_deps
    from predict.chat import describe
    from predict.report import format_report, store_figures
    from predict.service import latest_run, predict_everyone, prediction_for

    async with open_deps(settings()) as deps:
        if args.action == "run":
            result = await predict_everyone(deps)
            print(f"predictions stored for {result.customers} customers in {result.seconds:.1f}s; "
                  f"ranked by {result.method}")
        elif args.action == "report":
            latest = await latest_run()
            if latest is None:
                print("no predictions yet: they are made nightly (SCRM_PREDICT_CRON), or now with scrm predict run")
                return 1
            print(f"predictions of {latest.computed_at:%Y-%m-%d %H:%M} UTC")
            print(format_report(deps.config.templates, await store_figures(), latest.method))
        else:
            prediction = await prediction_for(args.external_userid)
            if prediction is None:
                print(f"no prediction for {args.external_userid!r} (unknown, or no purchase yet)", file=sys.stderr)
                return 1
            print(describe(deps.config.templates, prediction))
    return 0


async def _load_from_database() -> History:
    from bot.app import open_deps
    from predict.source import load_history

    loaded = settings()
    async with open_deps(loaded):
        history, _ = await load_history(ZoneInfo(loaded.scrm_timezone))
        return history
