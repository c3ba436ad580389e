"""The Litestar application: `create_app(settings)` and the lifespan that owns the shared resources."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import cast

import asyncpg
import httpx
from arq.connections import ArqRedis
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from redis.asyncio import ConnectionPool

from notifications.queue import Pacing
from notifications.senders import SenderDefaults
from server import db, migrate, pages
from server.auth import ApiKeyAuth, KeyCache
from server.boundary import BoundaryRequest, check_parameters
from server.deps import provide_conn
from server.errors import EXCEPTION_HANDLERS
from server.ingest import Ingestor
from server.openapi import ClosedStructs
from server.routes import (
    admin,
    answer_api,
    brand,
    catalog,
    dashboard,
    diary,
    erasure,
    events,
    exports,
    health,
    invitations,
    messaging,
    questionnaires,
    sandbox,
    senders,
    stats,
    studies,
    survey,
    timeline,
    webhooks,
)
from server.settings import Settings

log = logging.getLogger("lxt.app")

VERSION = "0.1.0"


def queue_client(url: str, queue_name: str, *, timeout: float = 2.0) -> ArqRedis:
    """A client of the job queue that connects on first use rather than at start-up (arq's create_pool pings
    first): the API starts and takes events while the queue is down — they are committed, and the sweeper
    enqueues their jobs once it is back — and ``/ready`` reports the queue as unavailable meanwhile.

    Every command gives up after `timeout` seconds: a queue that hangs rather than goes away (a stalled Valkey,
    a host gone without a reset) then fails as one that refuses connections does, instead of holding its
    caller forever.
    """
    pool = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=timeout)
    client = cast(ArqRedis, ArqRedis.from_pool(pool))
    client.default_queue_name = queue_name
    return client


def create_app(settings: Settings) -> Litestar:
    """Build the ASGI app. `settings` must carry real URLs (the CLI resolves embedded servers first)."""
    if not settings.database_url or not settings.redis_url:
        raise ValueError("create_app needs database_url and redis_url; run through `lxt serve` or `lxt up`")

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        state = app.state
        async with contextlib.AsyncExitStack() as stack:
            state.pool = await db.create_pool(
                settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
            )
            stack.push_async_callback(state.pool.close)
            state.redis = queue_client(settings.redis_url, settings.queue_name)
            stack.push_async_callback(state.redis.aclose)
            state.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
            stack.push_async_callback(state.http.aclose)
            pacing = Pacing(state.pool, SenderDefaults.from_settings(settings))
            state.ingestor = Ingestor(state.pool, state.redis, settings.queue_name, pacing=pacing)
            stack.push_async_callback(state.ingestor.drain)
            listener: asyncpg.Connection = await db.connect(settings.database_url)
            await listener.add_listener("lxt_key_revoked", state.key_cache.on_revoked)
            stack.push_async_callback(listener.close)
            yield

    v1 = Router(
        path="/v1",
        route_handlers=[
            *brand.ROUTES,
            *catalog.ROUTES,
            *erasure.ROUTES,
            *events.ROUTES,
            *exports.ROUTES,
            *questionnaires.ROUTES,
            *invitations.ROUTES,
            *messaging.ROUTES,
            *sandbox.ROUTES,
            *senders.ROUTES,
            *studies.ROUTES,
            *stats.ROUTES,
            *timeline.ROUTES,
        ],
        middleware=[ApiKeyAuth],
        security=[{"apiKey": []}],
    )
    admin_router = Router(
        path="/v1/admin", route_handlers=admin.ROUTES, guards=[admin.admin_only], security=[{"adminToken": []}]
    )
    return Litestar(
        route_handlers=[
            health.health,
            health.ready,
            v1,
            admin_router,
            answer_api.ROUTER,
            *webhooks.ROUTES,
            diary.ROUTER,
            dashboard.ROUTER,
            survey.ROUTER,
            pages.static_router(),
        ],
        # The customers' pages (server/templates, served with server/static), e.g. the web survey.
        template_config=pages.template_config(),
        lifespan=[lifespan],
        dependencies={"conn": Provide(provide_conn)},
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=BoundaryRequest,
        before_request=check_parameters,
        request_max_body_size=settings.max_body_bytes,
        plugins=[ClosedStructs()],
        state=State(
            {
                "settings": settings,
                "key_cache": KeyCache(settings.key_cache_seconds),
                "export_slots": exports.Slots(settings.db_pool_max),
                "migrations": migrate.load(),
            }
        ),
        openapi_config=OpenAPIConfig(
            title="lxt",
            version=VERSION,
            description="Live experience tracking: brand touchpoint events in, short surveys on the customer's "
            "phone out, experience timelines for researchers.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="http", scheme="bearer", description="An lxt API key"),
                    "adminToken": SecurityScheme(
                        type="http", scheme="bearer", description="The operator token (`LXT_ADMIN_TOKEN`)"
                    ),
                }
            ),
        ),
        debug=False,
        # Logging belongs to the process (server/logs.py), not to the app: Litestar's default configuration would
        # replace the root logger's redacting handler with its own.
        logging_config=None,
    )
