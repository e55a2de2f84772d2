"""Long jobs an operator starts from chat (重算标签, 同步客户): one of each kind at a time.

The command claims a lease with its job id and queues the job's request; the handler doing the
job releases the lease when done. A crashed worker frees it after JOB_LEASE_S.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.commands import Call
from bot.deps import Deps
from bot.internal import InternalEvent, internal_event
from bot.lease import claim, release

__all__ = ["JOB_LEASE_S", "BackfillRequested", "JobRequest", "RetagRequested", "job_lease", "start_once"]

JOB_LEASE_S = 2 * 3600


@dataclass(frozen=True, slots=True)
class JobRequest(InternalEvent):
    kind = ""  # the lease's name: one job of a kind at a time
    userid: str  # who asked, told when the job is done
    job: str  # the job's short id, quoted in every message about it


@internal_event("retag_requested")
class RetagRequested(JobRequest):
    kind = "retag"


@internal_event("backfill_requested")
class BackfillRequested(JobRequest):
    kind = "sync"


def job_lease_key(deps: Deps, kind: str) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:lease:job:{kind}"


async def start_once(call: Call, request: type[JobRequest], started: str, name: str) -> str:
    """Start a long job unless one of its kind is running (in any process): then say so instead."""
    job = hashlib.sha256(call.event_key.encode()).hexdigest()[:6]
    key = job_lease_key(call.deps, request.kind)
    running = await claim(call.deps.redis, key, JOB_LEASE_S, job)
    if running is not None:
        return call.say("cmd_job_running", command=name, job=running)
    try:
        await request(call.caller.userid, job).publish(call.deps, call.event_key)
    except BaseException:
        await release(call.deps.redis, key, job)
        raise
    return call.say(started, job=job)


@asynccontextmanager
async def job_lease(deps: Deps, request: JobRequest) -> AsyncIterator[None]:
    """Run the requested job, then free its kind for the next one (even when the job failed)."""
    try:
        yield
    finally:
        await release(deps.redis, job_lease_key(deps, request.kind), request.job)
