"""Request-scoped dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import asyncpg
from litestar.datastructures import State
from litestar.di import NamedDependency

from server import db

Conn = NamedDependency[asyncpg.Connection]
"""Annotation for a route parameter that receives the request's pooled connection."""


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """One pooled connection per request; routes that write open their own transaction on it."""
    async with db.acquire(state.pool) as conn:
        yield conn
