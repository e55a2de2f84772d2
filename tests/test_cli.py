"""The command line as an operator meets it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import no_backend

# Each test starts `scrm` on SQLite or on no database at all.
pytestmark = no_backend

GOOD_ENV = {
    "WECOM_CORP_ID": "ww1436e0e65a779aee",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_SECRET": "s3cret-value-Ao6b95HKuWrpphrCxv0UkFJHxOQBkw5z",
    "WECOM_TOKEN": "WAKCyygY5JXwuhBeh977Zo5mI21KO7C8",
    "WECOM_AES_KEY": "4TH14ukkpNVm5j2/2D2rXzVx369NdnOJn4J1/yuXNDQ",
}
# Tencent's sample app (tests/data/wecom_test_vectors.json): public, so refused for a real corp.
SAMPLE_TOKEN, SAMPLE_AES_KEY = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"


def run_scrm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "DATABASE_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=base | env, capture_output=True, text=True, timeout=60,
        cwd="/tmp",  # no .env from the repo
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({k: v for k, v in GOOD_ENV.items() if k != "WECOM_TOKEN"}, "WECOM_TOKEN is missing"),
        (GOOD_ENV | {"WECOM_AES_KEY": "tooshort"}, "WECOM_AES_KEY must be 43 characters"),
        (GOOD_ENV | {"WECOM_CORP_ID": "not a corp"}, "WECOM_CORP_ID must look like a WeCom corp id"),
        (GOOD_ENV | {"SCRM_QUIET_HOURS": "late"}, "must be HH:MM-HH:MM"),
    ],
)
def test_bad_settings_stop_the_start_with_one_line_naming_the_variable(env: dict[str, str], named: str) -> None:
    result = run_scrm("serve", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert GOOD_ENV["WECOM_SECRET"] not in result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (GOOD_ENV | {"WECOM_SECRET": "x"}, "WECOM_SECRET is too short or plain"),
        (GOOD_ENV | {"WECOM_SECRET": "x" * 43}, "WECOM_SECRET is too short or plain"),
        (GOOD_ENV | {"WECOM_TOKEN": SAMPLE_TOKEN}, "WECOM_TOKEN is Tencent's public sample Token"),
        (GOOD_ENV | {"WECOM_AES_KEY": SAMPLE_AES_KEY}, "WECOM_AES_KEY is Tencent's public sample EncodingAESKey"),
        # Pointed at a WeCom elsewhere than this machine, the sample values are no more acceptable.
        (GOOD_ENV | {"WECOM_TOKEN": SAMPLE_TOKEN, "WECOM_API_BASE": "http://wecom-proxy.internal"}, "WECOM_TOKEN"),
    ],
)
def test_a_weak_secret_or_tencents_sample_keys_stop_the_start(env: dict[str, str], named: str) -> None:
    result = run_scrm("serve", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert SAMPLE_TOKEN not in result.stderr and SAMPLE_AES_KEY not in result.stderr


def test_the_simulator_may_use_the_sample_values(tmp_path: object) -> None:
    """``scrm simulator`` on this machine plays WeCom with Tencent's sample app: the app may use it too."""
    sample = GOOD_ENV | {"WECOM_SECRET": "sim-app-secret", "WECOM_TOKEN": SAMPLE_TOKEN,
                         "WECOM_AES_KEY": SAMPLE_AES_KEY, "WECOM_API_BASE": "http://127.0.0.1:8090"}
    result = run_scrm("migrate", env=sample | {"DATABASE_URL": f"sqlite://{tmp_path}/x.sqlite3"})
    assert result.returncode == 0, result.stderr


def test_migrate_creates_the_schema(tmp_path: object) -> None:
    result = run_scrm("migrate", env=GOOD_ENV | {"DATABASE_URL": f"sqlite://{tmp_path}/x.sqlite3"})
    assert result.returncode == 0, result.stderr
    assert "schema up to date" in result.stdout


@pytest.mark.parametrize("variable", ["SCRM_QUIET_HOURS", "SCRM_SOP_QUIET_HOURS"])
def test_quiet_hours_come_from_one_setting_also_by_old_name(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lead cards and SOP notices both read `settings.quiet_hours`; the old SOP-only name still sets it."""
    from datetime import UTC, datetime

    from config.settings import Settings

    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(variable, "22:00-07:00")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.scrm_quiet_hours == "22:00-07:00"
    shanghai_2230 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    shanghai_0730 = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert settings.quiet_hours.holds(shanghai_2230, settings.scrm_timezone)
    assert not settings.quiet_hours.holds(shanghai_0730, settings.scrm_timezone)


def test_help_lists_the_engine_commands_and_every_features_own() -> None:
    """The engine's sub-commands and those the features add through their ``cli`` slot (bot/feature.py)."""
    result = run_scrm("--help", env={})
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ") and line.split()}
    assert listed >= {"serve", "migrate", "simulator", "demo", "events",  # the engine's
                      "sync", "import", "tags", "leads", "sop", "channels", "sidebar", "predict",  # the features'
                      "campaign", "moments"}


@pytest.mark.parametrize("command", [("leads", "report"), ("channels", "report")])
def test_a_bad_period_stops_a_report_with_one_line(command: tuple[str, str]) -> None:
    result = run_scrm(*command, "--since", "last week", env=GOOD_ENV)
    assert result.returncode == 2
    assert result.stderr.strip() == f"scrm {command[0]}: 'last week': use 7d or an ISO date like 2026-11-01"
