"""Settings: environment (and an optional ``.env``) → one frozen, typed object; secrets masked.

Built once by the app factory or the CLI and passed down; never read at import time.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.quiet import QuietHours

__all__ = [
    "MIN_SECRET_LENGTH", "PUBLIC_SAMPLE_AES_KEYS", "PUBLIC_SAMPLE_TOKENS", "Settings", "SettingsError", "check_role",
    "load_settings", "unknown_variables",
]

_CORP_ID = re.compile(r"^w[wx][0-9a-zA-Z]{6,32}$")
_TOKEN = re.compile(r"^[0-9a-zA-Z]{1,32}$")
# Tencent's published sample app (its callback library's docs; tests/data/wecom_test_vectors.json): public
# values, so a Token or EncodingAESKey equal to one of them protects nothing.
PUBLIC_SAMPLE_TOKENS = frozenset({"hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"})
PUBLIC_SAMPLE_AES_KEYS = frozenset({"6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"})
# A WeCom app secret is 43 random characters; anything much shorter or plainer was typed by hand.
MIN_SECRET_LENGTH = 32
_MIN_SECRET_DISTINCT = 8
_LOOPBACK_HOSTS = ("127.", "localhost", "[::1]")


class SettingsError(Exception):
    """Missing or invalid settings; the message names the variables."""


class Settings(BaseSettings):
    """Every knob of the product. Field ``foo_bar`` is read from the variable ``FOO_BAR``."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    # WeCom app (自建应用) with the customer-contact permission.
    wecom_corp_id: Annotated[str, Field(description="The corp id (`ww…`) of the WeCom organisation.")]
    wecom_agent_id: Annotated[int, Field(gt=0, description="The AgentId of the self-built app (自建应用).")]
    wecom_secret: Annotated[SecretStr, Field(description="The self-built app's secret, used to fetch access tokens.")]
    wecom_token: Annotated[
        SecretStr, Field(description="The callback Token set in the WeCom console (signs every callback).")
    ]
    wecom_aes_key: Annotated[
        SecretStr, Field(description="The callback EncodingAESKey set in the WeCom console (43 characters).")
    ]
    wecom_api_base: Annotated[
        str, Field(description="WeCom's API base URL; tests and the demo point it at the simulator.")
    ] = "https://qyapi.weixin.qq.com"

    database_url: Annotated[
        str, Field(description="The database: `postgres://user:pass@host:5432/db` in production, SQLite by default.")
    ] = "sqlite://data/scrm.sqlite3"
    redis_url: Annotated[
        str,
        Field(description="Redis, `redis://host:6379/0` in production; `memory://` is an in-process stand-in "
                          "for one process only."),
    ] = "memory://"
    scrm_redis_max_connections: Annotated[
        int, Field(ge=8, description="Connections a process's Redis pool may open at most.")
    ] = 1024
    # Redis behind Sentinel (a primary, replicas, and Sentinels that promote a replica when the
    # primary dies): the client asks the Sentinels for the primary and follows a failover.
    redis_sentinels: str = Field("", description=(
        "Sentinel addresses, host:port,host:port; set with REDIS_SENTINEL_MASTER instead of REDIS_URL "
        "to follow failovers."))
    redis_sentinel_master: str = Field("", description="The master name the Sentinels monitor (with REDIS_SENTINELS).")
    # Answer WeCom `success` only once the callback's XADD reached this many replicas (WAIT): a
    # primary that dies before its replica has the entry then loses nothing WeCom will not re-send.
    # Default: 1 with Sentinel, 0 without.
    scrm_redis_min_replicas: Annotated[int | None, Field(ge=0, le=8, description=(
        "Replicas a callback's append must reach before WeCom is answered success (default 1 with "
        "Sentinel, 0 without)."))] = None
    scrm_redis_replica_wait_ms: Annotated[int, Field(ge=10, le=4000, description=(
        "How long a callback waits for its replicas (WAIT) before it is answered 503 so WeCom re-sends."))] = 1000
    port: Annotated[int, Field(ge=1, le=65535, description="The HTTP port `scrm serve` listens on.")] = 8080
    log_level: Annotated[str, Field(description="The lowest log level written (DEBUG, INFO, WARNING, ERROR).")] = "INFO"
    log_format: Annotated[
        str, Field(description="`console` for readable logs, `json` for structured one-line JSON logs.")
    ] = "console"
    # Apply migrations when a process starts; turn off where many processes start at once
    # and `scrm migrate` runs as its own step.
    scrm_auto_migrate: Annotated[
        bool,
        Field(description="Apply database migrations when a process starts; turn off where many processes "
                          "start at once and `scrm migrate` runs as its own step."),
    ] = True

    # Everything this deployment keeps in Redis lives under this prefix (tests use one per run).
    scrm_redis_prefix: Annotated[
        str, Field(description="The prefix every Redis key of this deployment lives under.")
    ] = "scrm"
    scrm_timezone: Annotated[
        str, Field(description="The local time zone schedules (crontabs), quiet hours and dates are read in.")
    ] = "Asia/Shanghai"
    # One quiet window for everything sent to guides and managers (lead cards, SOP digests,
    # reminders and summaries): nothing goes out in these local hours; it waits until they end.
    # Empty: never quiet. (SCRM_SOP_QUIET_HOURS, its old name, is still read.)
    scrm_quiet_hours: str = Field(
        "21:30-09:00",
        validation_alias=AliasChoices("scrm_quiet_hours", "scrm_sop_quiet_hours"),
        description="Local hours (`HH:MM-HH:MM`) in which nothing is sent to guides and managers (lead cards, "
                    "SOP notices wait until they end); empty: never quiet; the old name SCRM_SOP_QUIET_HOURS "
                    "is still read.",
    )
    # Operator-edited files: templates.yaml, org.yaml, … (the shipped ones by default).
    scrm_config_dir: Annotated[
        Path,
        Field(description="The directory of the files operators edit (templates.yaml, org.yaml, tag_rules.yaml, "
                          "…); the shipped `config/` by default."),
    ] = Path(__file__).resolve().parent

    # Signed intake from the brand's systems: "shop=secret1,pos=secret2" (never in a committed file).
    scrm_signal_secrets: Annotated[
        SecretStr,
        Field(description="The signed intake's sources and their secrets, `shop=secret1,pos=secret2` "
                          "(never in a committed file)."),
    ] = SecretStr("")
    scrm_intake_endpoints: Annotated[str, Field(description=(
        "The intake paths each source may post to, e.g. \"shop=/signals /intake/orders,pos=/intake/orders\"; "
        "closed by default: a source not listed may post to none (403 naming this setting)."
    ))] = ""
    scrm_intake_legacy_signatures: Annotated[bool, Field(description=(
        "Also accept the first, unversioned intake signature (HMAC over timestamp + \".\" + body, not covering "
        "the method and path); off by default: only \"v2=…\" signatures are accepted."
    ))] = False

    # Ingest
    scrm_callback_max_bytes: Annotated[
        int, Field(ge=4096, description="The largest WeCom callback body accepted (413 above it, counted as it comes).")
    ] = 64 * 1024
    # Past this, an append to the queue counts as failed: 503, and WeCom re-sends (well inside its 5 s).
    scrm_enqueue_timeout_s: Annotated[
        float,
        Field(description="Seconds an append to the queue may take before it counts as failed: ingest answers "
                          "503 and WeCom re-sends (well inside its 5 s)."),
    ] = 2.0
    # When the append fails (Redis restarting, failing over), the web process keeps the callback on its
    # own disk and answers success; it goes into the stream once Redis answers (bot/spool.py).
    scrm_spool_dir: Annotated[str, Field(description=(
        "Folder where a web process keeps callbacks Redis could not take (one file per process, moved into "
        "the queue when Redis is back). Put it on a volume that outlives the container. Empty: no spool, "
        "such callbacks are answered 503 and WeCom re-sends them only 3 times. Not used when replicas must hold "
        "a callback (SCRM_REDIS_MIN_REPLICAS ≥ 1, the default with Sentinel): those are answered 503."))] = "data/spool"
    scrm_spool_max_mb: Annotated[int, Field(ge=1, description=(
        "The most a web process keeps in its spool; past it, callbacks are answered 503."))] = 512
    # Reject callbacks whose signed timestamp is further than this from now (replay guard). A replay
    # inside the window is caught by de-duplication, so the window must be shorter than its TTL.
    scrm_callback_max_age_s: Annotated[
        int,
        Field(gt=0, description="Callbacks whose signed timestamp is further than this many seconds from now are "
                                "refused (403, a replay guard); must be shorter than SCRM_DEDUP_TTL_S."),
    ] = 3600
    # Must outlive WeCom's re-sends and the replay window above.
    scrm_dedup_ttl_s: Annotated[
        int,
        Field(gt=0, description="Seconds a callback's de-duplication key is kept; must outlive WeCom's re-sends "
                                "and the replay window SCRM_CALLBACK_MAX_AGE_S."),
    ] = 86400
    # A request body must arrive within this (a slow or stalled sender is answered 408 and cut off).
    scrm_body_timeout_s: Annotated[
        float,
        Field(gt=0, description="Seconds a request's headers, and then its body, may take to arrive; a slow or "
                                "stalled sender is answered 408 and cut off."),
    ] = 10.0
    # Open connections one process serves at once; past it a new connection is answered 503 and closed.
    scrm_max_connections: Annotated[
        int,
        Field(ge=1, description="Connections one process serves at once; past it a new connection is answered "
                                "503 and closed."),
    ] = 1024
    # /metrics answers only `Authorization: Bearer <this>`; empty: /metrics is off (404).
    scrm_metrics_token: Annotated[
        SecretStr,
        Field(description="`/metrics` answers only `Authorization: Bearer <this token>`; empty: `/metrics` is "
                          "off (404)."),
    ] = SecretStr("")

    # Worker
    # Mirror WeCom's corp tags when a worker starts (once per 10 minutes across all workers).
    scrm_sync_tags_on_start: Annotated[
        bool,
        Field(description="Mirror WeCom's corp tags when a worker starts (once per 10 minutes across all "
                          "workers)."),
    ] = True
    scrm_worker_concurrency: Annotated[
        int, Field(ge=1, le=1024, description="Events one worker process handles at once.")
    ] = 32
    scrm_max_attempts: Annotated[
        int, Field(ge=1, description="Tries of a failing event before it is dead-lettered with its error.")
    ] = 6
    scrm_retry_base_s: Annotated[
        float, Field(description="The first retry delay of a failed event, doubled each attempt (with jitter).")
    ] = 2.0
    scrm_retry_max_s: Annotated[float, Field(description="The longest delay between two retries of an event.")] = 600.0
    # A worker renews its heartbeat every quarter of this; one silent for this long is dead, and
    # its pending events are taken over by the others.
    scrm_heartbeat_ttl_s: Annotated[
        float,
        Field(gt=0, description="A worker silent this many seconds is dead and its pending events are taken over "
                                "by the others (it renews its heartbeat every quarter of it; this replaced "
                                "SCRM_RECLAIM_IDLE_S)."),
    ] = 4.0
    scrm_max_deliveries: Annotated[
        int,
        Field(ge=1, description="Consumers an event may be taken over from (each crashed or killed) before it is "
                                "dead-lettered as poison."),
    ] = 5
    # Dead letters kept (whole bodies), the oldest dropped first; `scrm events stats` shows the count.
    scrm_dead_letter_maxlen: Annotated[
        int,
        Field(ge=1, description="Dead letters kept (whole bodies), the oldest dropped first; `scrm events stats` "
                                "shows the count."),
    ] = 10_000
    # Retention (bot/retention.py): what the engine records is trimmed by age, so a year of events
    # does not fill the disk.
    scrm_retention_every_s: Annotated[int, Field(ge=60, description=(
        "How often one process trims the event log, the outbox, the command audit and the dead letters."))] = 3600
    scrm_event_log_retention_days: Annotated[int, Field(ge=2, description=(
        "Days a processed event's event_log row is kept."))] = 30
    scrm_outbox_retention_days: Annotated[int, Field(ge=2, description=(
        "Days a sent or failed outbox row (the send-once record) is kept; pending ones are never trimmed."))] = 90
    scrm_command_audit_retention_days: Annotated[int, Field(ge=2, description=(
        "Days a chat command's audit row is kept."))] = 365
    scrm_dead_letter_retention_days: Annotated[int, Field(ge=1, description=(
        "Days a dead letter is kept for `scrm events replay` before it is trimmed."))] = 30
    scrm_shutdown_grace_s: Annotated[
        float,
        Field(description="Seconds in-flight events get to finish at shutdown before they are released back to "
                          "the stream."),
    ] = 20.0
    # On SIGTERM a web process first answers /healthz 503 and closes each connection after its
    # answer for this long, so the proxy in front takes it out of rotation; then it stops accepting
    # and finishes the requests it has (within SCRM_SHUTDOWN_GRACE_S). 0: stop accepting at once.
    scrm_drain_s: Annotated[float, Field(ge=0, le=60, description=(
        "Seconds a stopping web process keeps serving while /healthz answers 503, so the proxy drains it "
        "before it stops accepting."))] = 2.0

    # Tag sync: mark_tag calls per second across all processes (WeCom allows ~10,000 a minute per corp).
    scrm_mark_tag_per_second: Annotated[
        int,
        Field(ge=1, description="The pace of `mark_tag` calls per second, shared by all processes (WeCom allows "
                                "~10,000 a minute per corp)."),
    ] = 100
    # WeCom allows ~150,000 calls an hour per API and corp; leave room for the corp's other apps.
    # A pass stops when the hour's budget is spent, and the push_tags tick resumes it.
    scrm_mark_tag_per_hour: Annotated[
        int,
        Field(ge=1, description="`mark_tag` calls an hour across all processes, under WeCom's ~150,000 to leave "
                                "room for other apps; past it a sync pass stops and the next push resumes."),
    ] = 120_000

    # Schedules (crontab, in scrm_timezone): full re-tag nightly, reconcile with WeCom weekly.
    scrm_retag_cron: Annotated[
        str, Field(description="When the full re-tag runs (crontab in SCRM_TIMEZONE; nightly by default).")
    ] = "0 2 * * *"
    # Purchase predictions for every customer, before the nightly re-tag that reads them.
    scrm_predict_cron: Annotated[
        str,
        Field(description="When every customer's purchase prediction is computed (crontab), before the nightly "
                          "re-tag that reads it."),
    ] = "30 1 * * *"
    scrm_reconcile_cron: Annotated[
        str,
        Field(description="When tags are reconciled with what WeCom really has (crontab; weekly by default)."),
    ] = "0 3 * * 0"
    scrm_push_tags_every_s: Annotated[
        int, Field(ge=10, description="Seconds between two pushes of pending tag differences to WeCom.")
    ] = 300
    scrm_scheduler: Annotated[
        bool,
        Field(description="Run the scheduled ticks in this worker process (each slot still runs once across "
                          "workers)."),
    ] = True
    # Leads: the sweep finds time-based leads (a cart left for 2 h); the flush releases held cards,
    # reminders and digests.
    scrm_leads_sweep_every_s: Annotated[
        int, Field(ge=10, description="Seconds between sweeps that find time-based leads (a cart left for 2 h).")
    ] = 300
    scrm_leads_flush_every_s: Annotated[
        int,
        Field(ge=10, description="Seconds between flushes that release held lead cards, reminders and digests."),
    ] = 60

    # Chat commands: members who are admins whatever the database says (the first admin), comma-separated;
    # and commands one member may give a minute (across all processes).
    scrm_admin_userids: Annotated[
        str,
        Field(description="Comma-separated userids of members who are admins whatever the database says "
                          "(the first admins)."),
    ] = ""
    scrm_command_per_minute: Annotated[
        int, Field(ge=1, description="Chat commands one member may give a minute, across all processes.")
    ] = 20

    # Leaderboards: group robots by name, "HQ群=webhook-key,华东群=key2" (the key is the credential);
    # when each board is sent (crontab in scrm_timezone); robot messages a minute (WeCom allows 20).
    scrm_robot_keys: Annotated[
        SecretStr,
        Field(description="Group robots by name, `HQ群=webhook-key,华东群=key2` (the key is the credential)."),
    ] = SecretStr("")
    scrm_board_daily_cron: Annotated[
        str, Field(description="When the daily board (yesterday) goes out (crontab in SCRM_TIMEZONE).")
    ] = "0 9 * * *"
    scrm_board_weekly_cron: Annotated[
        str, Field(description="When the weekly board (last Monday to Sunday) goes out (crontab).")
    ] = "0 9 * * 1"
    scrm_board_monthly_cron: Annotated[
        str, Field(description="When the monthly board (last month) goes out (crontab).")
    ] = "0 9 1 * *"
    scrm_robot_per_minute: Annotated[
        int,
        Field(ge=1, le=20, description="Group-robot messages a minute, shared by all processes (WeCom allows 20)."),
    ] = 20
    # A CJK font file for the charts; empty: the packaged WenQuanYi Micro Hei, then system Noto CJK.
    scrm_chart_font: Annotated[
        str,
        Field(description="A CJK font file for the board charts; empty: the packaged WenQuanYi Micro Hei, then "
                          "the system's Noto CJK."),
    ] = ""

    # Hand-over: pause between transfer calls (100 customers each), and how often results are read.
    scrm_transfer_pause_s: Annotated[
        float, Field(description="Seconds between two hand-over transfer calls (100 customers each).")
    ] = 1.0
    scrm_handover_check_every_s: Annotated[
        int, Field(ge=10, description="Seconds between two reads of WeCom's transfer results during a hand-over.")
    ] = 600

    # SOP playbooks (crontabs in scrm_timezone). The engine sweeps every minute; guides get the
    # digest in the morning, one reminder for overdue tasks, managers a daily escalation summary.
    scrm_sop_tick_cron: Annotated[
        str, Field(description="When the SOP engine sweeps for due steps (crontab; every minute by default).")
    ] = "* * * * *"
    scrm_sop_digest_cron: Annotated[
        str, Field(description="When each guide gets the morning digest card of their SOP tasks (crontab).")
    ] = "30 9 * * *"
    scrm_sop_reminder_cron: Annotated[
        str, Field(description="When guides get one reminder of their overdue SOP tasks (crontab).")
    ] = "0 17 * * *"
    scrm_sop_escalation_cron: Annotated[
        str,
        Field(description="When store managers get the daily summary of tasks overdue by more than a day "
                          "(crontab)."),
    ] = "0 10 * * *"
    scrm_sop_digest_top: Annotated[
        int, Field(ge=1, le=6, description="Tasks (and buttons) on the guide's digest card.")
    ] = 5
    scrm_acquire_daily_cron: Annotated[str, Field(description=(
        "When (crontab in scrm_timezone) add tasks are recycled and guides and store managers get their "
        "添加会员 messages."))] = "30 9 * * *"
    # A sweep looks back at most this far (after a stop, or the first time).
    scrm_sop_catchup_hours: Annotated[
        int,
        Field(ge=1, le=168, description="Hours an SOP sweep looks back at most (after a stop, or the first time)."),
    ] = 24
    # Event steps re-read this much before the last sweep: rows a long re-tag commits late still count.
    scrm_sop_overlap_s: Annotated[
        int,
        Field(ge=0, description="Seconds before the last sweep that event steps re-read, so rows a long re-tag "
                                "commits late still count."),
    ] = 900
    scrm_sop_lease_s: Annotated[
        int, Field(ge=5, description="Seconds of the Redis lease that lets one SOP engine sweep at a time.")
    ] = 300

    # The address book (orgsync/): a full sync (crontab in scrm_timezone) catches any change_contact
    # callback WeCom did not deliver; channel codes follow it.
    scrm_org_sync_cron: Annotated[
        str,
        Field(description="When the full address-book sync runs (crontab), catching any change_contact callback "
                          "WeCom did not deliver; channel codes follow it."),
    ] = "30 1 * * *"

    # Campaigns (campaigns/): customer mass sends and moments a guide confirms in WeCom, followed to the customer.
    scrm_campaign_holdout_pct: Annotated[float, Field(ge=0, le=50, description=(
        "Share of a campaign's audience (percent) kept out of the push, stably by customer, to measure lift."))] = 10.0
    scrm_campaign_cap_period: Annotated[Literal["month", "week", "day"], Field(description=(
        "The period of WeCom's per-customer mass-message limit as the corp's admin set it: month, week or day."))] = (
        "month")
    scrm_campaign_cap_count: Annotated[int, Field(ge=0, description=(
        "Mass messages a customer may receive per cap period; 0 is WeCom's default for the period "
        "(as many as the month has days, 7 a week, 1 a day)."))] = 0
    scrm_campaign_window_days: Annotated[int, Field(ge=1, le=90, description=(
        "A campaign's conversion window: an order within this many days of the send converts."))] = 14
    scrm_campaign_sync_days: Annotated[int, Field(ge=1, le=30, description=(
        "How long a mass-send task is synced; a task the guide has not sent by then is closed as expired."))] = 7
    scrm_campaign_sync_every_s: Annotated[int, Field(ge=60, description=(
        "How often open mass-send tasks and moments are synced with WeCom, in seconds."))] = 900
    scrm_campaign_schedule_every_s: Annotated[int, Field(ge=10, description=(
        "How often config/campaigns.yaml is checked for scheduled campaigns that fell due, in seconds."))] = 60
    scrm_campaign_reminders_per_day: Annotated[int, Field(ge=1, le=3, description=(
        "Reminders (remind_groupmsg_send) per task in 24 hours; WeCom allows 3."))] = 3
    scrm_behaviour_cron: Annotated[str, Field(description=(
        "When yesterday's guide behaviour data (get_user_behavior_data) is fetched, a crontab in scrm_timezone."))] = (
        "15 6 * * *")
    scrm_behaviour_reply_drop_pct: Annotated[float, Field(ge=0, le=100, description=(
        "A guide whose reply rate fell by at least this many points against the week before is named "
        "in the store manager's daily summary."))] = 10.0

    # Customer groups (groups/).
    scrm_group_codes_check_every_s: Annotated[int, Field(ge=10, description=(
        "How often every group code's groups are counted from WeCom and listed again, in case a member-change "
        "callback was lost."))] = 300
    scrm_group_push_cron: Annotated[str, Field(description=(
        "When group playbook steps are looked at and pushed (crontab in scrm_timezone)."))] = "* * * * *"
    scrm_group_results_every_s: Annotated[int, Field(ge=60, description=(
        "How often the results of recent group mass sends are read from WeCom (get_groupmsg_*)."))] = 1800
    scrm_group_stats_cron: Annotated[str, Field(description=(
        "When yesterday's group statistics are read from WeCom (crontab in scrm_timezone)."))] = "0 6 * * *"

    # WeCom client
    scrm_wecom_timeout_s: Annotated[float, Field(description="Seconds one WeCom API call may take.")] = 10.0
    scrm_wecom_max_retries: Annotated[
        int,
        Field(ge=0, description="Retries of a WeCom call that failed transiently (-1, 45009, 45033, HTTP 5xx, "
                                "timeouts)."),
    ] = 5
    scrm_wecom_backoff_base_s: Annotated[
        float, Field(description="The first backoff of a retried WeCom call, doubled each retry (full jitter).")
    ] = 0.5
    scrm_wecom_backoff_max_s: Annotated[
        float, Field(description="The longest backoff between two retries of a WeCom call.")
    ] = 30.0
    # Shared budgets (bot/wecom/budget.py, SECURITY.md): every call draws from its API's counters in Redis.
    scrm_wecom_api_per_minute: Annotated[int, Field(ge=1, description=(
        "Calls a minute each WeCom API may take across all processes (WeCom blocks an API for the whole "
        "corp past about 10,000 a minute); mark_tag also keeps SCRM_MARK_TAG_PER_SECOND and _PER_HOUR."))] = 6000
    scrm_wecom_api_budgets: Annotated[str, Field(description=(
        "Budgets for named WeCom APIs over the defaults, 'api=calls/window' with window s, m or h, "
        "comma-separated, e.g. 'message/send=3000/m,externalcontact/add_msg_template=10000/h'."))] = ""
    scrm_wecom_interactive_share_pct: Annotated[int, Field(ge=1, le=100, description=(
        "The percentage of each API budget that people's requests (the sidebar) may take; background "
        "work such as the nightly tag push always keeps the rest."))] = 20

    # The guide's sidebar in the chat toolbar (聊天工具栏, sidebar/). Sessions are signed with
    # SCRM_SIDEBAR_SECRET (empty: a key derived from the app secret) and last this long. The
    # public URL (https://scrm.brand.com) is the app's trusted domain: OAuth comes back to it and
    # only its pages are signed (empty: the request's own host, for local use). The JS-SDK is
    # WeCom's; tests and the demo point it at the simulator's stand-in.
    scrm_sidebar_secret: Annotated[
        SecretStr,
        Field(description="The key the sidebar's session cookies are signed with; empty: derived from "
                          "WECOM_SECRET."),
    ] = SecretStr("")
    scrm_sidebar_session_s: Annotated[
        int, Field(ge=60, le=86400, description="Seconds a guide's sidebar session lasts.")
    ] = 7200
    scrm_sidebar_public_url: Annotated[
        str,
        Field(description="The sidebar's public base URL (the app's trusted domain): OAuth returns there and only "
                          "its pages are signed; empty: the request's own host, for local use."),
    ] = ""
    scrm_sidebar_oauth_base: Annotated[
        str, Field(description="WeCom's OAuth base URL; tests and the demo point it at the simulator.")
    ] = "https://open.weixin.qq.com"
    scrm_sidebar_jssdk_urls: Annotated[
        str,
        Field(description="The JS-SDK scripts the sidebar page loads (WeCom's jweixin and jwxwork, "
                          "comma-separated); tests and the demo use the simulator's stand-in."),
    ] = (
        "https://res.wx.qq.com/open/js/jweixin-1.2.0.js,https://open.work.weixin.qq.com/wwopen/js/jwxwork-1.0.0.js"
    )
    # Our own budget of ticket fetches per hour and kind, under WeCom's (100 app / 400 corp).
    scrm_sidebar_ticket_fetch_per_hour: Annotated[
        int,
        Field(ge=1, le=100, description="JS-SDK ticket fetches an hour per kind across processes, under WeCom's "
                                        "100 (app) and 400 (corp)."),
    ] = 60
    scrm_sidebar_ticket_min_age_s: Annotated[int, Field(ge=0, le=3600, description=(
        "A ticket the page says WeCom refused is renewed only once it is this old (and at most once per "
        "guide and kind every 10 minutes); a younger one keeps signing."))] = 300
    scrm_sidebar_old_secrets: Annotated[SecretStr, Field(description=(
        "Previous SCRM_SIDEBAR_SECRET values, comma-separated: sessions they signed stay valid until they "
        "expire, new ones are signed with the current secret (key rotation)."))] = SecretStr("")
    scrm_sidebar_local: Annotated[bool, Field(description=(
        "Serve the sidebar on the request's own host without SCRM_SIDEBAR_PUBLIC_URL (the demo, tests, a "
        "laptop); off, the sidebar needs an https SCRM_SIDEBAR_PUBLIC_URL."))] = False
    scrm_sidebar_login_per_minute: Annotated[int, Field(ge=1, description=(
        "Visits to /sidebar/login and /sidebar/oauth one address may make a minute (past it: 429)."))] = 30
    scrm_sidebar_writes_per_minute: Annotated[int, Field(ge=1, description=(
        "Sidebar writes (tags, notes, tasks, leads, sends) one guide may make a minute (past it: 429)."))] = 30
    scrm_trusted_proxies: Annotated[str, Field(description=(
        "Addresses or networks of our own reverse proxies, comma-separated: from them the client address "
        "is the last X-Forwarded-For hop (for per-address limits); from anyone else the header is ignored."))] = ""

    @field_validator("wecom_corp_id")
    @classmethod
    def _corp_id(cls, value: str) -> str:
        if not _CORP_ID.match(value):
            raise ValueError("must look like a WeCom corp id (ww… or wx…, letters and digits)")
        return value

    @field_validator("wecom_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN.match(value.get_secret_value()):
            raise ValueError("must be 1 to 32 letters or digits (the Token set in the WeCom console)")
        return value

    @field_validator("wecom_aes_key")
    @classmethod
    def _aes_key(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if len(raw) != 43:
            raise ValueError("must be 43 characters (the EncodingAESKey set in the WeCom console)")
        try:
            base64.b64decode(raw + "=", validate=True)
        except binascii.Error as err:
            raise ValueError("must be base64 (the EncodingAESKey set in the WeCom console)") from err
        return value

    @field_validator("wecom_api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            host, _, port = item.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"must be host:port,host:port (got {item!r})")
        return ",".join(part.strip() for part in value.split(",") if part.strip())

    @model_validator(mode="after")
    def _sentinel_master_named(self) -> Settings:
        if bool(self.redis_sentinels) != bool(self.redis_sentinel_master):
            raise ValueError("REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together: set both, or neither")
        return self

    @field_validator("scrm_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d-([01]?\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be HH:MM-HH:MM (local time), or empty for none")
        return value

    @field_validator("scrm_sidebar_secret", "scrm_sidebar_old_secrets")
    @classmethod
    def _sidebar_secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        raw = value.get_secret_value()
        secrets = raw.split(",") if info.field_name == "scrm_sidebar_old_secrets" else [raw]
        if any(s.strip() and len(s.strip().encode()) < 32 for s in secrets):
            raise ValueError("must be at least 32 bytes (e.g. `openssl rand -hex 32`); empty derives one from "
                             "WECOM_SECRET")
        return value

    @field_validator("scrm_wecom_api_budgets")
    @classmethod
    def _api_budgets(cls, value: str) -> str:
        from bot.wecom.budget import parse_budgets

        parse_budgets(value)
        return value

    @field_validator("scrm_trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",") if p.strip()):
            ipaddress.ip_network(part, strict=False)  # ValueError names the bad one
        return value

    @field_validator("scrm_sidebar_public_url")
    @classmethod
    def _sidebar_public_url(cls, value: str) -> str:
        if value and (not value.startswith(("https://", "http://")) or not urlsplit(value).netloc):
            raise ValueError("must be the sidebar's https:// address, e.g. https://scrm.brand.com")
        return value.rstrip("/")

    def sidebar_url_problem(self) -> str:
        """Why the sidebar cannot be served with these settings ("" when it can)."""
        if self.scrm_sidebar_local or self.scrm_sidebar_public_url.startswith("https://"):
            return ""
        return ("SCRM_SIDEBAR_PUBLIC_URL must be the sidebar's https:// address (the app's trusted domain, e.g. "
                "https://scrm.brand.com): its cookies are Secure and OAuth comes back only there; until then the "
                "sidebar answers 503. For local use (no proxy, no https) set SCRM_SIDEBAR_LOCAL=true")

    @property
    def trusted_proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        parts = (p.strip() for p in self.scrm_trusted_proxies.split(",") if p.strip())
        return tuple(ipaddress.ip_network(part, strict=False) for part in parts)

    @model_validator(mode="after")
    def _replay_window_inside_dedup(self) -> Settings:
        if self.scrm_callback_max_age_s >= self.scrm_dedup_ttl_s:
            raise ValueError(
                f"SCRM_CALLBACK_MAX_AGE_S ({self.scrm_callback_max_age_s}) must be shorter than "
                f"SCRM_DEDUP_TTL_S ({self.scrm_dedup_ttl_s}): a replay inside the window would be taken as new"
            )
        return self

    @model_validator(mode="after")
    def _no_weak_or_public_credentials(self) -> Settings:
        """WECOM_SECRET=x or Tencent's sample Token/AES key stop the start, unless WeCom is the simulator."""
        if self.uses_simulator:
            return self
        problems = []
        secret = self.wecom_secret.get_secret_value()
        if len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < _MIN_SECRET_DISTINCT:
            problems.append(f"WECOM_SECRET is too short or plain for a WeCom app secret (at least "
                            f"{MIN_SECRET_LENGTH} characters; copy it from the WeCom admin console)")
        if self.wecom_token.get_secret_value() in PUBLIC_SAMPLE_TOKENS:
            problems.append("WECOM_TOKEN is Tencent's public sample Token: set your app's own")
        if self.wecom_aes_key.get_secret_value() in PUBLIC_SAMPLE_AES_KEYS:
            problems.append("WECOM_AES_KEY is Tencent's public sample EncodingAESKey: generate your app's own")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def uses_simulator(self) -> bool:
        """WeCom is a stand-in on this machine (``scrm demo``, ``scrm simulator``, tests, benchmarks): plain
        http on a loopback address, which the real qyapi.weixin.qq.com never is."""
        base = self.wecom_api_base.removeprefix("http://")
        return base != self.wecom_api_base and base.startswith(_LOOPBACK_HOSTS)

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours.parse(self.scrm_quiet_hours)

    @property
    def admin_userids(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.scrm_admin_userids.split(",") if u.strip())

    def robot_keys(self) -> dict[str, str]:
        """Robot name → webhook key, from ``SCRM_ROBOT_KEYS``."""
        pairs = (item.split("=", 1) for item in self.scrm_robot_keys.get_secret_value().split(",") if "=" in item)
        return {name.strip(): key.strip() for name, key in pairs if name.strip() and key.strip()}

    @property
    def is_memory_redis(self) -> bool:
        return not self.redis_sentinels and self.redis_url.startswith("memory://")

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        addresses = []
        for item in self.redis_sentinels.split(","):
            host, _, port = item.strip().rpartition(":")
            addresses.append((host.strip("[]"), int(port)))
        return addresses

    @property
    def min_replicas(self) -> int:
        if self.scrm_redis_min_replicas is not None:
            return self.scrm_redis_min_replicas
        return 1 if self.redis_sentinels else 0


# Variables with these prefixes are settings of this product: one it does not know is a typo or a
# setting of another version (REDIS_SENTINELS on a release without Sentinel), refused rather than
# ignored. SCRM_TEST_* belong to the test suite (tests/conftest.py), not to the app.
_OUR_PREFIXES = ("SCRM_", "WECOM_", "REDIS_", "DATABASE_")
_NOT_SETTINGS_PREFIX = "SCRM_TEST_"


def _known_variables() -> frozenset[str]:
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
    return frozenset(names)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The variables in ``environ`` that look like ours (``SCRM_``, ``WECOM_`` …) but name no setting."""
    known = _known_variables()
    return sorted(
        name for name in environ
        if name.upper().startswith(_OUR_PREFIXES) and not name.upper().startswith(_NOT_SETTINGS_PREFIX)
        and name.upper() not in known
    )


def check_role(settings: Settings, role: str) -> None:
    """Refuse a split deployment (``--role web`` / ``--role worker``) on the embedded stand-ins.

    Each process would have its own: a web process on ``memory://`` answers WeCom ``success`` into
    its own memory and no worker ever sees the event; SQLite is one file behind one process's lock.
    """
    if role == "all":
        return
    if settings.is_memory_redis:
        raise SettingsError(
            f"--role {role} runs as a separate process: set REDIS_URL (or REDIS_SENTINELS) to a shared Redis; "
            "memory:// is this process's own memory, and events put there reach no other process"
        )
    if settings.database_url.startswith("sqlite"):
        raise SettingsError(
            f"--role {role} runs as a separate process: set DATABASE_URL to PostgreSQL; "
            "SQLite is one file behind one process's lock"
        )


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; raise SettingsError with one line naming each bad variable."""
    unknown = unknown_variables(os.environ)
    if unknown:
        raise SettingsError(
            f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: not a setting of this version "
            "(a typo, or a setting of another release); see docs/settings.md"
        )
    try:
        return Settings(**overrides)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            variable = ".".join(str(part) for part in error["loc"]).upper()
            reason = "is missing" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
            problems.append(f"{variable} {reason}" if variable else reason)
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
