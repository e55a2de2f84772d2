"""Deploys: what an operator meets when the processes are split and replaced (issue: deploys lose nothing)."""

from __future__ import annotations

import pytest

from tests.test_cli import GOOD_ENV, run_scrm

# Valid values of our own (not Tencent's public sample): the start refuses those outside the simulator.
SPLIT_ENV = GOOD_ENV | {"WECOM_TOKEN": "DeployTestToken0123456789", "WECOM_AES_KEY": "a" * 43}


@pytest.mark.parametrize("role", ["web", "worker"])
def test_a_split_role_without_a_shared_redis_refuses_to_start_naming_the_setting(role: str) -> None:
    result = run_scrm("serve", "--role", role, env=SPLIT_ENV | {"DATABASE_URL": "postgres://x@127.0.0.1:1/x"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"--role {role}" in lines[0] and "REDIS_URL" in lines[0]


def test_a_split_role_on_sqlite_refuses_to_start_naming_the_setting() -> None:
    result = run_scrm("serve", "--role", "worker", env=SPLIT_ENV | {"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_setting_this_version_does_not_know_stops_the_start() -> None:
    result = run_scrm("serve", env=SPLIT_ENV | {"REDIS_SENTINELZ": "127.0.0.1:26379"})
    assert result.returncode == 2
    assert "unknown setting REDIS_SENTINELZ" in result.stderr
