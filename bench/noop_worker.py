"""The ceiling of the send benchmark: lxt's arq worker configuration running a job that does nothing.

``python -m bench.noop_worker`` (settings from ``LXT_*`` as for ``lxt worker``, the queue from
``LXT_BENCH_NOOP_QUEUE``) takes the same options as `server.worker.create_worker` — ``max_jobs``, timeouts,
kept results, the default poll delay — with `noop` as its only function and no cron jobs or start-up
resources, and runs in burst mode: it ends once the queue is empty. Its start-up is announced by an INCR of
``<queue>:ready``, so the benchmark knows when every process is polling.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Final

import uvloop
from arq import func

from server.settings import Settings
from server.worker import create_worker

NOOP: Final = "noop"


async def noop(ctx: dict[str, Any], *args: Any) -> None:
    """Nothing: what is left is arq's own cost per job (read it, mark it in progress, run it, store the result)."""


async def _ready(ctx: dict[str, Any]) -> None:
    await ctx["redis"].incr(ctx["ready_key"])


async def main() -> None:
    settings = Settings.from_env()
    queue = os.environ["LXT_BENCH_NOOP_QUEUE"]
    worker = create_worker(
        settings.replace(queue_name=queue),
        functions=[func(noop, name=NOOP)],
        cron_jobs=[],
        ctx={"ready_key": f"{queue}:ready"},
        on_startup=_ready,
        on_shutdown=None,
        handle_signals=False,
        burst=True,
    )
    try:
        await worker.main()
    finally:
        await worker.close()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main())
