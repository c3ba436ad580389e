"""Touchpoints, triggers and customers: what a brand configures, and who it surveys."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import asyncpg
from litestar import Request, Response, get, put
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody

from customers import queries as customers
from customers.contact import check_customer
from customers.model import Customer, CustomerIn, CustomerInvalid
from questionnaires.model import SLUG_PATTERN
from server.auth import ANY_SCOPE, requires
from server.deps import Conn
from server.errors import ApiError, invalid
from server.tenants import Principal
from triggers import catalog
from triggers.catalog import Touchpoint, TouchpointIn, TriggerOut
from triggers.model import TriggerIn, validate_trigger

Req = Request[Principal, Principal, State]
TOUCHPOINT_KEY = re.compile(SLUG_PATTERN)  # path parameters are not checked by Litestar


@get("/touchpoints", tags=["touchpoints"], opt=ANY_SCOPE, summary="The brand's touchpoint catalogue")
async def list_touchpoints(request: Req, conn: Conn) -> list[Touchpoint]:
    return await catalog.list_touchpoints(conn, request.auth.brand_id)


@get("/touchpoints/{key:str}", tags=["touchpoints"], opt=ANY_SCOPE, summary="One touchpoint")
async def read_touchpoint(request: Req, conn: Conn, key: FromPath[str]) -> Touchpoint:
    found = await catalog.get_touchpoint(conn, request.auth.brand_id, key)
    if found is None:
        raise NotFoundException(f"no touchpoint {key!r}")
    return found


@put(
    "/touchpoints/{key:str}",
    tags=["touchpoints"],
    opt=requires("manage"),
    summary="Create or replace a touchpoint",
    description="201 when created, 200 when replaced. Keys: lowercase letters, digits, `_` and `-`.",
)
async def put_touchpoint(
    request: Req, conn: Conn, key: FromPath[str], data: JSONBody[TouchpointIn]
) -> Response[Touchpoint]:
    if not TOUCHPOINT_KEY.match(key):
        raise invalid("path:key", "use a lowercase letter, then up to 62 lowercase letters, digits, '_' or '-'")
    touchpoint, created = await catalog.put_touchpoint(conn, request.auth.brand_id, key, data)
    return Response(touchpoint, status_code=201 if created else 200)


@get("/triggers", tags=["triggers"], opt=requires("manage"), summary="The brand's triggers")
async def list_triggers(request: Req, conn: Conn, touchpoint: FromQuery[str | None] = None) -> list[TriggerOut]:
    return await catalog.list_triggers(conn, request.auth.brand_id, touchpoint)


@get("/triggers/{key:str}", tags=["triggers"], opt=requires("manage"), summary="One trigger")
async def read_trigger(request: Req, conn: Conn, key: FromPath[str]) -> TriggerOut:
    found = await catalog.get_trigger(conn, request.auth.brand_id, key)
    if found is None:
        raise NotFoundException(f"no trigger {key!r}")
    return found


@put(
    "/triggers/{key:str}",
    tags=["triggers"],
    opt=requires("manage"),
    summary="Create or replace a trigger",
    description="The body's `key` must equal the path's. 201 when created, 200 when replaced. To stop a trigger, "
    "set `active: false`: its invitations not yet sent are cancelled, and its decisions stay in the timelines.",
)
async def put_trigger(
    request: Req, conn: Conn, key: FromPath[str], data: JSONBody[TriggerIn]
) -> Response[TriggerOut]:
    if data.key != key:
        raise invalid("/key", "must equal the key in the path")
    validate_trigger(data)
    await catalog.check_prerequisites(conn, request.auth.brand_id, data)
    async with conn.transaction():
        trigger, created = await catalog.put_trigger(conn, request.auth.brand_id, data, datetime.now(UTC))
    return Response(trigger, status_code=201 if created else 200)


@get("/customers/{external_id:str}", tags=["customers"], opt=requires("manage"), summary="One customer")
async def read_customer(request: Req, conn: Conn, external_id: FromPath[str]) -> Customer:
    found = await customers.get_customer(conn, request.auth.brand_id, external_id)
    if found is None:
        raise NotFoundException(f"no customer {external_id!r}")
    return found


@put(
    "/customers/{external_id:str}",
    tags=["customers"],
    opt=requires("ingest", "manage"),
    status_code=200,
    summary="Create or update a customer",
    description="Fields left out keep their stored values; `null` clears one. Consents merge per channel and "
    "every change is recorded in the customer's timeline. `opted_out: true` stops all surveys at once; "
    "`opted_out: false` (opting back in) needs the `manage` scope, and events can never opt a customer back in.",
)
async def put_customer(
    request: Req, conn: Conn, external_id: FromPath[str], data: JSONBody[CustomerIn]
) -> Customer:
    if not 1 <= len(external_id) <= 200:
        raise invalid("path:external_id", "1 to 200 characters")
    customer, errors = check_customer(data)
    if errors:
        raise CustomerInvalid(errors)
    if data.opted_out is False and "manage" not in request.auth.scopes:
        raise ApiError(403, "opting a customer back in (opted_out: false) needs the 'manage' scope")
    for attempt in range(3):
        try:
            async with conn.transaction():
                stored, _ = await customers.put_customer(
                    conn, request.auth.brand_id, external_id, customer, datetime.now(UTC)
                )
            return stored
        except asyncpg.UniqueViolationError:  # created concurrently: the next attempt finds and updates it
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


ROUTES = [
    list_touchpoints,
    read_touchpoint,
    put_touchpoint,
    list_triggers,
    read_trigger,
    put_trigger,
    read_customer,
    put_customer,
]
