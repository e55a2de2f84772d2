"""Settings: environment (and an optional ``.env``) → one frozen, typed object; secrets masked.

Built once by the app factory or the CLI and passed down; never read at import time.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.quiet import QuietHours

__all__ = [
    "MIN_SECRET_LENGTH", "PUBLIC_SAMPLE_AES_KEYS", "PUBLIC_SAMPLE_TOKENS", "Settings", "SettingsError", "load_settings",
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
    wecom_corp_id: str
    wecom_agent_id: Annotated[int, Field(gt=0)]
    wecom_secret: SecretStr
    wecom_token: SecretStr
    wecom_aes_key: SecretStr
    wecom_api_base: str = "https://qyapi.weixin.qq.com"

    database_url: str = "sqlite://data/scrm.sqlite3"
    redis_url: str = "memory://"
    scrm_redis_max_connections: Annotated[int, Field(ge=8)] = 1024
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    log_level: str = "INFO"
    log_format: str = "console"  # or "json"
    # Apply migrations when a process starts; turn off where many processes start at once
    # and `scrm migrate` runs as its own step.
    scrm_auto_migrate: bool = True

    # Everything this deployment keeps in Redis lives under this prefix (tests use one per run).
    scrm_redis_prefix: str = "scrm"
    scrm_timezone: str = "Asia/Shanghai"
    # One quiet window for everything sent to guides and managers (lead cards, SOP digests,
    # reminders and summaries): nothing goes out in these local hours; it waits until they end.
    # Empty: never quiet. (SCRM_SOP_QUIET_HOURS, its old name, is still read.)
    scrm_quiet_hours: str = Field(
        "21:30-09:00", validation_alias=AliasChoices("scrm_quiet_hours", "scrm_sop_quiet_hours")
    )
    # Operator-edited files: templates.yaml, org.yaml, … (the shipped ones by default).
    scrm_config_dir: Path = Path(__file__).resolve().parent

    # Signed intake from the brand's systems: "shop=secret1,pos=secret2" (never in a committed file).
    scrm_signal_secrets: SecretStr = SecretStr("")
    scrm_intake_endpoints: Annotated[str, Field(description=(
        "The intake paths each source may post to, e.g. \"shop=/signals /intake/orders,pos=/intake/orders\"; "
        "closed by default: a source not listed may post to none (403 naming this setting)."
    ))] = ""
    scrm_intake_legacy_signatures: Annotated[bool, Field(description=(
        "Also accept the first, unversioned intake signature (HMAC over timestamp + \".\" + body, not covering "
        "the method and path); off by default: only \"v2=…\" signatures are accepted."
    ))] = False

    # Ingest
    scrm_callback_max_bytes: Annotated[int, Field(ge=4096)] = 64 * 1024
    # Past this, an append to the queue counts as failed: 503, and WeCom re-sends (well inside its 5 s).
    scrm_enqueue_timeout_s: float = 2.0
    # Reject callbacks whose signed timestamp is further than this from now (replay guard). A replay
    # inside the window is caught by de-duplication, so the window must be shorter than its TTL.
    scrm_callback_max_age_s: Annotated[int, Field(gt=0)] = 3600
    # Must outlive WeCom's re-sends and the replay window above.
    scrm_dedup_ttl_s: Annotated[int, Field(gt=0)] = 86400
    # A request body must arrive within this (a slow or stalled sender is answered 408 and cut off).
    scrm_body_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    # Open connections one process serves at once; past it a new connection is answered 503 and closed.
    scrm_max_connections: Annotated[int, Field(ge=1)] = 1024
    # /metrics answers only `Authorization: Bearer <this>`; empty: /metrics is off (404).
    scrm_metrics_token: SecretStr = SecretStr("")

    # Worker
    # Mirror WeCom's corp tags when a worker starts (once per 10 minutes across all workers).
    scrm_sync_tags_on_start: bool = True
    scrm_worker_concurrency: Annotated[int, Field(ge=1, le=1024)] = 32
    scrm_max_attempts: Annotated[int, Field(ge=1)] = 6
    scrm_retry_base_s: float = 2.0
    scrm_retry_max_s: float = 600.0
    # A worker renews its heartbeat every quarter of this; one silent for this long is dead, and
    # its pending events are taken over by the others.
    scrm_heartbeat_ttl_s: Annotated[float, Field(gt=0)] = 4.0
    scrm_max_deliveries: Annotated[int, Field(ge=1)] = 5
    # Dead letters kept (whole bodies), the oldest dropped first; `scrm events stats` shows the count.
    scrm_dead_letter_maxlen: Annotated[int, Field(ge=1)] = 10_000
    scrm_shutdown_grace_s: float = 20.0

    # Tag sync: mark_tag calls per second across all processes (WeCom allows ~10,000 a minute per corp).
    scrm_mark_tag_per_second: Annotated[int, Field(ge=1)] = 100
    # WeCom allows ~150,000 calls an hour per API and corp; leave room for the corp's other apps.
    # A pass stops when the hour's budget is spent, and the push_tags tick resumes it.
    scrm_mark_tag_per_hour: Annotated[int, Field(ge=1)] = 120_000

    # Schedules (crontab, in scrm_timezone): full re-tag nightly, reconcile with WeCom weekly.
    scrm_retag_cron: str = "0 2 * * *"
    # Purchase predictions for every customer, before the nightly re-tag that reads them.
    scrm_predict_cron: str = "30 1 * * *"
    scrm_reconcile_cron: str = "0 3 * * 0"
    scrm_push_tags_every_s: Annotated[int, Field(ge=10)] = 300
    scrm_scheduler: bool = True
    # Leads: the sweep finds time-based leads (a cart left for 2 h); the flush releases held cards,
    # reminders and digests.
    scrm_leads_sweep_every_s: Annotated[int, Field(ge=10)] = 300
    scrm_leads_flush_every_s: Annotated[int, Field(ge=10)] = 60

    # Chat commands: members who are admins whatever the database says (the first admin), comma-separated;
    # and commands one member may give a minute (across all processes).
    scrm_admin_userids: str = ""
    scrm_command_per_minute: Annotated[int, Field(ge=1)] = 20

    # Leaderboards: group robots by name, "HQ群=webhook-key,华东群=key2" (the key is the credential);
    # when each board is sent (crontab in scrm_timezone); robot messages a minute (WeCom allows 20).
    scrm_robot_keys: SecretStr = SecretStr("")
    scrm_board_daily_cron: str = "0 9 * * *"
    scrm_board_weekly_cron: str = "0 9 * * 1"
    scrm_board_monthly_cron: str = "0 9 1 * *"
    scrm_robot_per_minute: Annotated[int, Field(ge=1, le=20)] = 20
    # A CJK font file for the charts; empty: the packaged WenQuanYi Micro Hei, then system Noto CJK.
    scrm_chart_font: str = ""

    # Hand-over: pause between transfer calls (100 customers each), and how often results are read.
    scrm_transfer_pause_s: float = 1.0
    scrm_handover_check_every_s: Annotated[int, Field(ge=10)] = 600

    # SOP playbooks (crontabs in scrm_timezone). The engine sweeps every minute; guides get the
    # digest in the morning, one reminder for overdue tasks, managers a daily escalation summary.
    scrm_sop_tick_cron: str = "* * * * *"
    scrm_sop_digest_cron: str = "30 9 * * *"
    scrm_sop_reminder_cron: str = "0 17 * * *"
    scrm_sop_escalation_cron: str = "0 10 * * *"
    scrm_sop_digest_top: Annotated[int, Field(ge=1, le=6)] = 5
    # A sweep looks back at most this far (after a stop, or the first time).
    scrm_sop_catchup_hours: Annotated[int, Field(ge=1, le=168)] = 24
    # Event steps re-read this much before the last sweep: rows a long re-tag commits late still count.
    scrm_sop_overlap_s: Annotated[int, Field(ge=0)] = 900
    scrm_sop_lease_s: Annotated[int, Field(ge=5)] = 300

    # The address book (orgsync/): a full sync (crontab in scrm_timezone) catches any change_contact
    # callback WeCom did not deliver; channel codes follow it.
    scrm_org_sync_cron: str = "30 1 * * *"

    # WeCom client
    scrm_wecom_timeout_s: float = 10.0
    scrm_wecom_max_retries: Annotated[int, Field(ge=0)] = 5
    scrm_wecom_backoff_base_s: float = 0.5
    scrm_wecom_backoff_max_s: float = 30.0

    # The guide's sidebar in the chat toolbar (聊天工具栏, sidebar/). Sessions are signed with
    # SCRM_SIDEBAR_SECRET (empty: a key derived from the app secret) and last this long. The
    # public URL (https://scrm.brand.com) is the app's trusted domain: OAuth comes back to it and
    # only its pages are signed (empty: the request's own host, for local use). The JS-SDK is
    # WeCom's; tests and the demo point it at the simulator's stand-in.
    scrm_sidebar_secret: SecretStr = SecretStr("")
    scrm_sidebar_session_s: Annotated[int, Field(ge=60, le=86400)] = 7200
    scrm_sidebar_public_url: str = ""
    scrm_sidebar_oauth_base: str = "https://open.weixin.qq.com"
    scrm_sidebar_jssdk_urls: str = (
        "https://res.wx.qq.com/open/js/jweixin-1.2.0.js,https://open.work.weixin.qq.com/wwopen/js/jwxwork-1.0.0.js"
    )
    # Our own budget of ticket fetches per hour and kind, under WeCom's (100 app / 400 corp).
    scrm_sidebar_ticket_fetch_per_hour: Annotated[int, Field(ge=1, le=100)] = 60

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

    @field_validator("scrm_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d-([01]?\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be HH:MM-HH:MM (local time), or empty for none")
        return value

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
        return self.redis_url.startswith("memory://")


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; raise SettingsError with one line naming each bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            variable = ".".join(str(part) for part in error["loc"]).upper()
            reason = "is missing" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
            problems.append(f"{variable} {reason}" if variable else reason)
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
