"""The command line as an operator meets it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

GOOD_ENV = {
    "WECOM_CORP_ID": "ww1436e0e65a779aee",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_SECRET": "s3cret-value",
    "WECOM_TOKEN": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
    "WECOM_AES_KEY": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
}


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
    ],
)
def test_bad_settings_stop_the_start_with_one_line_naming_the_variable(env: dict[str, str], named: str) -> None:
    result = run_scrm("serve", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert "s3cret-value" not in result.stderr


def test_migrate_creates_the_schema(tmp_path: object) -> None:
    result = run_scrm("migrate", env=GOOD_ENV | {"DATABASE_URL": f"sqlite://{tmp_path}/x.sqlite3"})
    assert result.returncode == 0, result.stderr
    assert "schema up to date" in result.stdout
