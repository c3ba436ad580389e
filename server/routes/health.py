"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Literal

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
    status: Annotated[
        Literal["ok", "degraded", "unavailable"],
        Meta(
            description="`ok`: every part is. `degraded`: the database and migrations are, the queue is not; the "
            "API still serves and takes events (their send jobs are queued once the queue is back), so it stays "
            "ready (200). `unavailable`: the database does not answer or migrations are pending (503)."
        ),
    ]
    database: Annotated[
        Literal["ok", "unavailable"], Meta(description="`unavailable`: no connection or no answer within 2 s.")
    ]
    migrations: Annotated[
        Literal["ok", "pending", "unavailable"],
        Meta(
            description="`pending`: this code expects migrations the database does not have (run `lxt migrate`); "
            "`unavailable`: not known, the database does not answer."
        ),
    ]
    queue: Annotated[
        Literal["ok", "unavailable"],
        Meta(
            description="`unavailable`: Valkey/Redis does not answer a PING within 2 s. Not enough to make the API "
            "unready (see `status`): alert on it separately."
        ),
    ]
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
    summary="Readiness: database and migrations; the queue and workers reported alongside",
    description="200 while the API can serve requests: its database answers and its migrations are applied. A "
    "queue (Valkey/Redis) that does not answer does not take the API out of service — events are still taken, "
    "and their send jobs queued once it is back — so it shows as `degraded`, not as a 503. The body says which "
    "part is not `ok`.",
    responses={
        503: ResponseSpec(
            Readiness,
            description="Not ready: the database does not answer or migrations are pending; the body says which",
            generate_examples=False,
        )
    },
)
async def ready(state: State) -> Response[Readiness]:
    database: Literal["ok", "unavailable"] = "unavailable"
    migrations: Literal["ok", "pending", "unavailable"] = "unavailable"
    queue: Literal["ok", "unavailable"] = "unavailable"
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
    serving = database == migrations == "ok"
    status: Literal["ok", "degraded", "unavailable"] = (
        "unavailable" if not serving else "ok" if queue == "ok" else "degraded"
    )
    body = Readiness(
        status=status,
        database=database,
        migrations=migrations,
        queue=queue,
        workers_alive=workers or 0,
    )
    return Response(body, status_code=200 if serving else 503)
