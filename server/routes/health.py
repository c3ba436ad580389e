"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from msgspec import Meta

from notifications import liveness
from notifications.liveness import ALIVE_WITHIN, HEARTBEAT_EVERY
from server import db, migrate

log = logging.getLogger("lxt.health")


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    database: str
    migrations: str
    queue: str
    workers_alive: Annotated[
        int,
        Meta(
            description=f"Worker processes whose last heartbeat is under {ALIVE_WITHIN.seconds} s old (they beat "
            f"every {HEARTBEAT_EVERY.seconds} s, also while they wait for the queue; one that stops cleanly "
            "is removed at once). Not part of `status`: the API is ready without workers."
        ),
    ]


@get("/health", tags=["operations"], summary="Liveness: the process answers")
async def health() -> Health:
    return Health(status="ok")


@get(
    "/ready",
    tags=["operations"],
    summary="Readiness: database, migrations and queue",
    responses={
        503: ResponseSpec(Readiness, description="Not ready: the body says which part", generate_examples=False)
    },
)
async def ready(state: State) -> Response[Readiness]:
    database = migrations = queue = "unavailable"
    workers = 0
    try:
        async with asyncio.timeout(2):
            async with state.pool.acquire() as conn:
                await db.ping(conn)
                database = "ok"
                current = await migrate.is_current(conn, state.migrations)
                migrations = "ok" if current else "pending"
                workers = await liveness.count_alive(conn)
    except Exception as exc:  # any failure means "not ready", reported in the body
        log.warning("readiness: database check failed: %s", exc)
    try:
        async with asyncio.timeout(2):
            await state.redis.ping()
            queue = "ok"
    except Exception as exc:
        log.warning("readiness: queue check failed: %s", exc)
    ok = database == migrations == queue == "ok"
    body = Readiness(
        status="ok" if ok else "unavailable",
        database=database,
        migrations=migrations,
        queue=queue,
        workers_alive=workers or 0,
    )
    return Response(body, status_code=200 if ok else 503)
