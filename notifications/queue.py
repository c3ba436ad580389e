"""Putting invitation send jobs on the arq queue, many at a time, paced per brand.

arq's ``enqueue_job`` costs a WATCH/MULTI round trip per job; a group of ingested events may schedule hundreds
of invitations, so this module writes the same job records arq would (same serializer, keys and queue score)
with one Lua script call per group. The jobs travel in two arguments — a text index of ``id planned clock
length`` lines and the job payloads concatenated — because redis-py packs each argument in Python, which cost
more than the script itself at four arguments per job.

**Idempotent.** The job id derives from the invitation id and its planned time (`job_id`), and a job that
already exists (queued, running, or with a kept result) is left alone: the sweeper re-enqueues whatever the
queue lost without ever queueing an invitation twice, while an invitation whose send was retried or deferred
(planned anew) gets a job of its own even while arq still keeps the previous one's result.

**Paced.** arq runs the jobs that are due in score order, so 10,000 invitations of one brand due at once would
sit ahead of every other brand's. With a `Pacing`, each brand's jobs are spread over time at its sender's rate:
a virtual clock per (brand, channel) in Valkey gives each new job the score max(planned, next free slot) and
moves the slot on by 1/rate, so the queue never holds more of a brand's jobs due at one moment than its sender
could send then, and another brand's job is never queued behind a whole burst. The clocks are kept per minute of
planned time, each starting where the previous minute's ended: one invitation planned for tomorrow morning
does not push today's behind it, while a burst planned for one moment is spread as a whole. Pacing only orders
the queue; each send still takes its sender's rate limit (`notifications.ratelimit`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import pickle
import time
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg
import msgspec
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.exceptions import NoScriptError

from notifications.senders import CHANNELS, SenderConfig, SenderDefaults, effective_sender, pacing_inputs
from triggers.schedule import InvitationJob

log = logging.getLogger("lxt.queue")

SEND_INVITATION: Final = "send_invitation"
JOB_GRACE: Final = timedelta(days=1)
"""A queued job is dropped this long after its score if no worker ran it (the sweeper re-creates it)."""
PACE_PREFIX: Final = "lxt:pace:"
PACE_BUCKET: Final = timedelta(minutes=1)
"""The span of planned time one pacing clock covers."""
LOOKUP_WITHIN: Final = 0.5
"""Seconds `Pacing` waits for the database before queueing a group's jobs unpaced."""
_CHUNK: Final = 500

# KEYS: the job and result key prefixes. ARGV: queue, index, payloads, now (ms), grace (ms), bucket (ms), clocks
# (a "key interval_ms" line per pacing clock; a job names its clock by number, 0 for none).
_ENQUEUE = """
local queue, index, payloads = ARGV[1], ARGV[2], ARGV[3]
local now, grace, bucket_ms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local clocks = {}
for key, interval in string.gmatch(ARGV[7], '(%S+) (%S+)\\n') do
  clocks[#clocks + 1] = {key = key, interval = tonumber(interval), free = {}}
end
local offset = 1
local added = 0
for id, planned, clock, length in string.gmatch(index, '(%S+) (%d+) (%d+) (%d+)\\n') do
  local next_offset = offset + tonumber(length)
  if redis.call('EXISTS', KEYS[1] .. id, KEYS[2] .. id) == 0 then
    local score = math.max(now, tonumber(planned))
    local pace = clocks[tonumber(clock)]
    if pace then
      -- The clock of this minute of planned time carries on from the previous minute's (a burst longer than
      -- a minute stays one run) and is read once per call.
      local bucket = math.floor(score / bucket_ms)
      local free = pace.free[bucket]
      if free == nil then
        free = math.max(tonumber(redis.call('GET', pace.key .. ':' .. bucket) or 0),
                        tonumber(redis.call('GET', pace.key .. ':' .. (bucket - 1)) or 0))
      end
      local slot = math.max(score, free)
      pace.free[bucket] = slot + pace.interval
      score = math.ceil(slot)
    end
    redis.call('PSETEX', KEYS[1] .. id, score - now + grace, string.sub(payloads, offset, next_offset - 1))
    redis.call('ZADD', queue, score, id)
    added = added + 1
  end
  offset = next_offset
end
-- A clock lives until its next free slot has passed, and at least through the next minute (which starts from it).
for _, pace in ipairs(clocks) do
  for bucket, free in pairs(pace.free) do
    local expires = math.ceil(math.max(free, (bucket + 2) * bucket_ms) - now)
    redis.call('SET', pace.key .. ':' .. bucket, string.format('%.3f', free), 'PX', expires)
  end
end
return added
"""
_ENQUEUE_SHA: Final = hashlib.sha1(_ENQUEUE.encode(), usedforsecurity=False).hexdigest()
_GRACE_MS: Final = int(JOB_GRACE.total_seconds() * 1000)
_BUCKET_MS: Final = int(PACE_BUCKET.total_seconds() * 1000)


def job_id(invitation_id: str, planned_at: datetime) -> str:
    """The send job of an invitation planned for `planned_at`: one per invitation and planned time."""
    return _job_id(invitation_id, _unix_ms(planned_at))


def _job_id(invitation_id: str, planned_ms: int) -> str:
    return f"invitation:{invitation_id}:{planned_ms}"


class Pace(msgspec.Struct, frozen=True):
    """How fast a brand's invitations are spread over the queue: its clock's channel and messages per second."""

    channel: str
    rate_per_second: float


class Pacing:
    """Each brand's `Pace`, cached in this process for `ttl` seconds (a changed sender or trigger paces new jobs
    within that time).

    A brand's pace is the rate of the sender of the channel its invitations go out on first: the first channel
    of each of its active triggers (``web_link`` is sent by SMS), the fastest of them if they differ — an
    invitation's channel is only decided at send time, and pacing by a slower channel than the one used would
    hold invitations back for nothing. A brand without triggers is paced by its SMS sender. A sender without a
    provider (the sandbox) has no limit, and its jobs are not paced.
    """

    def __init__(self, pool: asyncpg.Pool, defaults: SenderDefaults, *, ttl: float = 30.0) -> None:
        self.pool = pool
        self.defaults = defaults
        self.ttl = ttl
        self._paces: dict[UUID, tuple[Pace, float]] = {}

    async def paces(self, brand_ids: Collection[UUID]) -> dict[UUID, Pace]:
        """The pace of each brand; brands whose pace cannot be read now are left out (their jobs unpaced)."""
        now = time.monotonic()
        found: dict[UUID, Pace] = {}
        missing = []
        for brand_id in brand_ids:
            cached = self._paces.get(brand_id)
            if cached is not None and cached[1] > now:
                found[brand_id] = cached[0]
            else:
                missing.append(brand_id)
        if missing:
            try:
                async with asyncio.timeout(LOOKUP_WITHIN), self.pool.acquire() as conn:
                    inputs = await pacing_inputs(conn, missing)
            except Exception as exc:  # pacing orders the queue; it must never keep a job out of it
                log.warning(
                    "could not read the senders of %d brands; their jobs are queued unpaced: %s", len(missing), exc
                )
                return found
            if len(self._paces) > 10_000:
                self._paces.clear()
            for brand_id in missing:
                senders, first_channels = inputs.get(brand_id, ({}, []))
                found[brand_id] = self.pace(senders, first_channels)
                self._paces[brand_id] = (found[brand_id], now + self.ttl)
        return found

    def pace(self, senders: dict[str, SenderConfig], first_channels: Sequence[str]) -> Pace:
        """The pace of a brand with these own senders and triggers' first channels (pure)."""
        channels = {"sms" if c == "web_link" else c for c in first_channels} & set(CHANNELS) or {"sms"}
        candidates = [
            Pace(channel, effective_sender(channel, senders.get(channel), self.defaults).rate_per_second)  # type: ignore[arg-type]
            for channel in sorted(channels)
        ]
        return max(candidates, key=lambda pace: pace.rate_per_second)


async def enqueue_invitations(
    redis: ArqRedis, jobs: Sequence[InvitationJob], queue_name: str, pacing: Pacing | None = None
) -> int:
    """Queue a send job per invitation, due at its planned time — or later, paced by `pacing` — and return how
    many were new (an invitation whose job for that planned time exists is skipped)."""
    clocks: dict[UUID, int] = {}
    clock_lines: list[str] = []
    if pacing is not None and jobs:
        paces = await pacing.paces({job.brand_id for job in jobs})
        for brand_id, pace in paces.items():
            if math.isfinite(pace.rate_per_second):
                clock_lines.append(f"{PACE_PREFIX}{brand_id}:{pace.channel} {1000 / pace.rate_per_second:.6f}\n")
                clocks[brand_id] = len(clock_lines)
    now_ms = int(time.time() * 1000)
    added = 0
    for start in range(0, len(jobs), _CHUNK):
        index: list[str] = []
        payloads: list[bytes] = []
        for job in jobs[start : start + _CHUNK]:
            planned_ms = _unix_ms(job.planned_at)
            payload = serialize_job(
                SEND_INVITATION, (str(job.brand_id), job.invitation_id), {}, None, now_ms, serializer=pickle.dumps
            )
            index.append(
                f"{_job_id(job.invitation_id, planned_ms)} {planned_ms} {clocks.get(job.brand_id, 0)} {len(payload)}\n"
            )
            payloads.append(payload)
        # Job and clock keys are derived inside the script (standalone Valkey/Redis, not cluster).
        args = (
            2,
            job_key_prefix,
            result_key_prefix,
            queue_name,
            "".join(index),
            b"".join(payloads),
            now_ms,
            _GRACE_MS,
            _BUCKET_MS,
            "".join(clock_lines),
        )
        try:
            added += int(await redis.evalsha(_ENQUEUE_SHA, *args))  # type: ignore[misc]
        except NoScriptError:  # first use on this server, or after SCRIPT FLUSH / a restart
            added += int(await redis.eval(_ENQUEUE, *args))  # type: ignore[misc]
    return added


def _unix_ms(moment: datetime) -> int:
    # Rounded up: a job must not become due before its invitation.
    return math.ceil(moment.timestamp() * 1000)
