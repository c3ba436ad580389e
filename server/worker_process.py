"""The worker process (`lxt worker`): arq's worker, run until SIGINT or SIGTERM, reconnecting whenever the queue
is lost.

arq's own `Worker.run` ends, with an error, when the connection to Valkey/Redis is lost. `run` keeps the worker's
process and its resources (database pool, HTTP client, heartbeat) and reconnects with backoff instead: each
attempt is a fresh arq `Worker`, so its start-up sweep restores from PostgreSQL whatever the queue lost. Jobs in
flight when the queue went away are left to finish first; each has its state in PostgreSQL (the claim), so a
job arq runs again finds its invitation handled and does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from arq.worker import Worker
from redis.exceptions import RedisError

from server.backoff import Backoff
from server.settings import Settings
from server.worker import close_resources, create_worker, open_resources

log = logging.getLogger("lxt.worker")

QUEUE_ERRORS = (RedisError, OSError)
"""What a lost or unusable connection to Valkey/Redis raises (refused, reset, timed out, still loading …)."""


async def run(settings: Settings, backoff: Backoff | None = None) -> None:
    """The worker process: run arq's worker until SIGINT or SIGTERM, reconnecting whenever the queue is lost."""
    backoff = backoff or Backoff(first=0.5, cap=10.0, stable=60.0)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    worker: Worker | None = None

    def stop(sig: signal.Signals) -> None:
        stopping.set()
        if worker is not None:
            worker.handle_sig(sig)  # arq's shutdown: cancels the jobs in flight and the worker's main task

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    ctx: dict[str, Any] = {"settings": settings}
    try:
        await open_resources(ctx)
        while not stopping.is_set():
            # A fresh connection pool per attempt (create_worker's), which connects on first use: connection
            # attempts are this loop's, not arq's, whose retries would only delay the next log line.
            worker = create_worker(settings, ctx=ctx, on_startup=None, on_shutdown=None, handle_signals=False)
            started = loop.time()
            worker.main_task = main = asyncio.create_task(worker.main())
            await asyncio.wait([main])
            if stopping.is_set() or main.cancelled():
                break
            error = main.exception()
            if error is None or not isinstance(error, QUEUE_ERRORS):
                if error is not None:
                    raise error
                break
            # Said at once: letting the jobs in flight end may take a while, and the queue may not even answer
            # the goodbye (each command then waits for the pool's timeout).
            delay = backoff.delay(loop.time() - started)
            log.warning(
                "the queue is unreachable (%s: %s); reconnecting in %.1f s", type(error).__name__, error, delay
            )
            await _retire(worker)
            worker = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
    finally:
        if worker is not None:
            await _retire(worker)
        await close_resources(ctx)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _retire(worker: Worker) -> None:
    """Let the worker's jobs in flight end (within their timeout), then drop its connection to the queue, in
    whatever state the queue is. On a signal, arq has cancelled them already."""
    tasks = list(worker.tasks.values())
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=worker.job_timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if worker.pool is not None:
        with contextlib.suppress(*QUEUE_ERRORS):
            await worker.pool.delete(worker.health_check_key)
        with contextlib.suppress(*QUEUE_ERRORS):
            await worker.pool.aclose()
