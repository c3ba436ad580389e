"""arq job functions of `research`; the worker's ``ctx`` is described in `notifications.jobs`."""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg

from research import retention

log = logging.getLogger("lxt.jobs")

RUN_SECONDS: Final = 240.0
"""How long one retention run works before it stops where it is (the next run goes on): well within the cron
job's timeout, so that what it did is audited."""
RETENTION_TIMEOUT: Final = 300
"""The cron job's timeout, in seconds."""


async def apply_retention(ctx: dict[str, Any]) -> int:
    """Anonymise the raw content older than each brand's retention period (`research.retention`); how many rows
    were. Safe to run at once in several workers, and more than once."""
    return await run_retention(ctx["pool"], datetime.now(UTC))


async def run_retention(
    pool: asyncpg.Pool, now: datetime, *, batch: int = retention.BATCH, seconds: float = RUN_SECONDS
) -> int:
    """One retention run as of `now`, brand after brand, table after table, `batch` rows a statement, for at most
    `seconds`; each brand's run is audited once."""
    deadline = time.monotonic() + seconds
    async with pool.acquire() as conn:
        brands = await retention.due(conn, now)
    # A brand with a long backlog that runs out the time does not keep the same brands waiting run after run.
    random.shuffle(brands)
    total = 0
    for brand in brands:
        rows = dict.fromkeys((step.table for step in retention.STEPS), 0)
        complete = True
        async with pool.acquire() as conn:
            for step in retention.STEPS:
                after = None
                while True:
                    if time.monotonic() > deadline:
                        complete = False
                        break
                    done = await retention.anonymise_batch(conn, brand, step, batch, after)
                    rows[step.table] += done.rows
                    after = done.last or after
                    if done.rows < batch:
                        break
            async with conn.transaction():
                await retention.finish(conn, brand, rows, complete=complete)
        total += sum(rows.values())
        if any(rows.values()):
            log.info("retention anonymised %d rows of brand %s", sum(rows.values()), brand.brand_id)
    return total
