"""``scrm campaign`` (customer mass sends: preview, send, sync, report, remind, cancel) and ``scrm moments``
(朋友圈 tasks: send, sync, report, remind)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from bot.clikit import SubParsers, setup, with_deps

if TYPE_CHECKING:
    from bot.deps import Deps
    from campaigns.service import SyncResult

__all__ = ["add_command"]


def add_command(sub: SubParsers) -> None:
    """``scrm campaign`` and ``scrm moments``, added by the CLI from the feature table (bot/features.py)."""
    campaign = sub.add_parser("campaign", help="customer mass sends (客户群发) followed to the customer")
    actions = campaign.add_subparsers(dest="action", required=True)
    for name, help_text in (("preview", "how many customers, per guide (nothing is sent)"),
                            ("send", "create the tasks the guides confirm in WeCom")):
        parser = actions.add_parser(name, help=help_text)
        parser.add_argument("--name", required=True)
        parser.add_argument("--tag", action="append", default=[], help="a corp tag (repeat: any of them)")
        parser.add_argument("--stage", action="append", default=[], help="a lifecycle stage (repeat: any of them)")
        parser.add_argument("--store", default="", help="a store's code: its guides' customers")
        parser.add_argument("--top", type=float, default=0.0, help="the top PCT%% by P(buy in 90 days)")
        parser.add_argument("--customer", action="append", default=[], help="an external_userid (repeat)")
        parser.add_argument("--text", default="", help="the text ({guide} and {store} are filled in)")
        parser.add_argument("--attach", action="append", default=[], help="a sidebar library item id (≤ 9)")
        parser.add_argument("--holdout", type=float, default=None, help="holdout %% (default: the setting)")
    sync = actions.add_parser("sync", help="read the results from WeCom now (all campaigns, or one)")
    sync.add_argument("name", nargs="?", default="")
    report = actions.add_parser("report", help="per guide: targeted, sent, unsent, not a friend, over the limit")
    report.add_argument("name")
    report.add_argument("--json", action="store_true")
    for name, help_text in (("remind", "remind the guides who have not sent (≤ 3 a day per task)"),
                            ("cancel", "cancel every open task")):
        actions.add_parser(name, help=help_text).add_argument("name")
    campaign.set_defaults(run=_campaign)

    moments = sub.add_parser("moments", help="moments (朋友圈) the guides publish")
    m_actions = moments.add_subparsers(dest="action", required=True)
    send = m_actions.add_parser("send", help="ask guides to publish a moment to customers with given tags")
    send.add_argument("--name", required=True)
    send.add_argument("--text", required=True)
    send.add_argument("--tag", action="append", default=[])
    send.add_argument("--guide", action="append", default=[], help="a guide's userid (repeat)")
    send.add_argument("--store", default="", help="a store's code: its guides publish")
    send.add_argument("--attach", action="append", default=[], help="a sidebar library item id")
    for name, help_text in (("sync", "read who published, who could see it, likes and comments"),
                            ("report", "who published and how many customers could see it"),
                            ("remind", "an app message to the guides who have not published")):
        parser = m_actions.add_parser(name, help=help_text)
        parser.add_argument("name")
        if name == "report":
            parser.add_argument("--json", action="store_true")
    moments.set_defaults(run=_moments)


def _campaign(args: argparse.Namespace) -> int:
    settings = setup()

    async def run(deps: Deps) -> int:
        code, text = await campaign_command(deps, args)
        print(text, file=sys.stdout if code == 0 else sys.stderr)
        return code

    return with_deps(settings, run)


def _synced(synced: SyncResult) -> str:
    return f"synced {synced.tasks} task(s): {synced.sent} sent, {synced.expired} expired, {synced.results} results"


async def campaign_command(deps: Deps, args: argparse.Namespace) -> tuple[int, str]:
    """What ``scrm campaign <action>`` prints, and its exit code."""
    from campaigns import service
    from campaigns.audience import Audience
    from campaigns.report import campaign_report, format_report

    if args.action in ("preview", "send"):
        audience = Audience(tuple(args.tag), tuple(args.stage), args.store, args.top, tuple(args.customer))
        if audience.empty:
            return 2, f"scrm campaign {args.action}: give an audience (--tag, --stage, --store, --top or --customer)"
        if args.action == "preview":
            shown = await service.preview(deps, args.name, audience, args.holdout)
            lines = [f"{args.name}: {shown.customers} customers, holdout {shown.holdout}, at the cap {shown.capped}"]
            lines += [f"  {userid:<20} {n:>8}" for userid, n in shown.by_guide.items()]
            return 0, "\n".join(lines)
        spec = service.CampaignSpec(args.name, audience, args.text, tuple(args.attach), args.holdout)
        try:
            campaign, sent = await service.send(deps, spec)
        except service.ContentError as err:
            return 1, f"scrm campaign send: {err}"
        refused = f"; WeCom refused the tasks of {', '.join(sent.refused)}" if sent.refused else ""
        return (1 if sent.refused else 0), (
            f"campaign {campaign.name}: {sent.tasks} task(s), {sent.customers} customers, "
            f"{sent.failed} in fail_list{refused}")
    if args.action == "sync" and not args.name:
        return 0, _synced(await service.sync(deps))
    found = await service.by_name(args.name)
    if found is None:
        return 1, f"scrm campaign {args.action}: no campaign named {args.name!r}"
    campaign = found
    if args.action == "sync":
        return 0, _synced(await service.sync(deps, campaign))
    if args.action == "report":
        await service.sync(deps, campaign)
        report = await campaign_report(campaign)
        return 0, (json.dumps(report.as_json(), ensure_ascii=False) if args.json else "\n".join(format_report(report)))
    if args.action == "remind":
        lines = [f"{r.userid}: reminded" if r.reminded else f"{r.userid}: not reminded: {r.reason}"
                 for r in await service.remind(deps, campaign)]
        return 0, "\n".join(lines) or "every guide has sent"
    cancelled = await service.cancel(deps, campaign)
    return 0, f"campaign {campaign.name}: {cancelled} open task(s) cancelled"


def _moments(args: argparse.Namespace) -> int:
    from campaigns import moments
    from campaigns.report import moment_report

    settings = setup()

    async def run(deps: Deps) -> int:
        if args.action == "send":
            try:
                moment = await moments.send(deps, moments.MomentSpec(
                    args.name, args.text, tuple(args.tag), tuple(args.guide), args.store, tuple(args.attach)))
            except moments.MomentError as err:
                print(f"scrm moments send: {err}", file=sys.stderr)
                return 1
            print(f"moment {moment.name}: jobid {moment.jobid}, moment_id {moment.moment_id or '(pending)'}")
            return 0
        found = await moments.by_name(args.name)
        if found is None:
            print(f"scrm moments: no moment named {args.name!r}", file=sys.stderr)
            return 1
        moment = found
        if args.action == "remind":
            reminded = await moments.remind(deps, moment)
            print(f"reminded {len(reminded)} guide(s): {', '.join(reminded) or '-'}")
            return 0
        moment = await moments.sync(deps, moment)
        if args.action == "sync":
            print(f"moment {moment.name} synced")
            return 0
        figures = await moment_report(moment)
        if args.json:
            print(json.dumps(figures, ensure_ascii=False))
            return 0
        print(f"moment {figures['moment']}: {figures['published']} guide(s) published, "
              f"{figures['customers']} customers could see it")
        for g in figures["guides"]:
            state = "published" if g["published"] else "not published"
            print(f"  {g['userid']:<20} {state:<14} {g['customers']:>6} customers  {g['likes']} likes  "
                  f"{g['comments']} comments")
        return 0

    return with_deps(settings, run)
