"""Putting invitation send jobs on the arq queue, many at a time.

arq's ``enqueue_job`` costs a WATCH/MULTI round trip per job; a group of ingested events may schedule hundreds
of invitations, so this module writes the same job records arq would (same serializer, keys and queue score)
with one Lua script call per group. The jobs travel in two arguments — a text index of ``id score expiry
length`` lines and the job payloads concatenated — because redis-py packs each argument in Python, which
cost more than the script itself at four arguments per job. The job id derives from the invitation id, and a
job that already exists (queued, running, or with a kept result) is left alone — enqueueing is idempotent, which is what lets the
sweeper re-enqueue whatever the queue lost without ever queueing an invitation twice.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job

from triggers.schedule import InvitationJob

SEND_INVITATION: Final = "send_invitation"
JOB_GRACE: Final = timedelta(days=1)
"""A queued job is dropped this long after its planned time if no worker ran it (the sweeper re-creates it)."""
_CHUNK: Final = 500

_ENQUEUE = """
local queue, index, payloads = ARGV[1], ARGV[2], ARGV[3]
local offset = 1
local added = 0
for id, score, expires_ms, length in string.gmatch(index, '(%S+) (%d+) (%d+) (%d+)\\n') do
  local next_offset = offset + tonumber(length)
  if redis.call('EXISTS', KEYS[1] .. id, KEYS[2] .. id) == 0 then
    redis.call('PSETEX', KEYS[1] .. id, expires_ms, string.sub(payloads, offset, next_offset - 1))
    redis.call('ZADD', queue, score, id)
    added = added + 1
  end
  offset = next_offset
end
return added
"""


def job_id(invitation_id: str) -> str:
    return f"invitation:{invitation_id}"


async def enqueue_invitations(redis: ArqRedis, jobs: Sequence[InvitationJob], queue_name: str) -> int:
    """Queue a send job per invitation, deferred to its planned time; return how many were new."""
    now_ms = int(time.time() * 1000)
    added = 0
    for start in range(0, len(jobs), _CHUNK):
        index: list[str] = []
        payloads: list[bytes] = []
        for job in jobs[start : start + _CHUNK]:
            score = max(now_ms, _unix_ms(job.planned_at))
            expires_ms = score - now_ms + int(JOB_GRACE.total_seconds() * 1000)
            payload = serialize_job(
                SEND_INVITATION, (str(job.brand_id), job.invitation_id), {}, None, now_ms, serializer=pickle.dumps
            )
            index.append(f"{job_id(job.invitation_id)} {score} {expires_ms} {len(payload)}\n")
            payloads.append(payload)
        # Job keys are derived inside the script from the two prefixes (standalone Valkey/Redis, not cluster).
        added += int(
            await redis.eval(  # type: ignore[misc]
                _ENQUEUE, 2, job_key_prefix, result_key_prefix, queue_name, "".join(index), b"".join(payloads)
            )
        )
    return added


def _unix_ms(moment: datetime) -> int:
    # Rounded up: a job must not become due before its invitation.
    return math.ceil(moment.timestamp() * 1000)
