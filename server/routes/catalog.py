"""Touchpoints, triggers and customers: what a brand configures, and who it surveys."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from litestar import Request, Response, get, put
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from customers import queries as customers
from customers.contact import check_customer
from customers.model import Customer, CustomerIn, CustomerInvalid
from server import db
from server.auth import ANY_SCOPE, requires
from server.deps import Conn
from server.errors import ApiError, ProblemOperation, invalid, problems
from server.routes.params import ExternalId, Key, KeyQuery
from server.tenants import Principal
from triggers import catalog
from triggers.catalog import Touchpoint, TouchpointIn, TriggerOut
from triggers.model import TriggerIn, validate_trigger

Req = Request[Principal, Principal, State]


@get(
    "/touchpoints",
    tags=["touchpoints"],
    opt=ANY_SCOPE,
    summary="The brand's touchpoint catalogue",
    responses=problems(401, 503),
    operation_class=ProblemOperation,
)
async def list_touchpoints(request: Req, conn: Conn) -> list[Touchpoint]:
    return await catalog.list_touchpoints(conn, request.auth.brand_id)


@get(
    "/touchpoints/{key:str}",
    tags=["touchpoints"],
    opt=ANY_SCOPE,
    summary="One touchpoint",
    responses=problems(401, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def read_touchpoint(request: Req, conn: Conn, key: Key) -> Touchpoint:
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
    responses={
        201: ResponseSpec(Touchpoint, description="Created", generate_examples=False),
        **problems(400, 401, 403, 413, 422, 503),
    },
    operation_class=ProblemOperation,
)
async def put_touchpoint(request: Req, conn: Conn, key: Key, data: JSONBody[TouchpointIn]) -> Response[Touchpoint]:
    touchpoint, created = await catalog.put_touchpoint(conn, request.auth.brand_id, key, data)
    return Response(touchpoint, status_code=201 if created else 200)


@get(
    "/triggers",
    tags=["triggers"],
    opt=requires("manage"),
    summary="The brand's triggers",
    responses=problems(401, 403, 422, 503),
    operation_class=ProblemOperation,
)
async def list_triggers(request: Req, conn: Conn, touchpoint: KeyQuery = None) -> list[TriggerOut]:
    return await catalog.list_triggers(conn, request.auth.brand_id, touchpoint)


@get(
    "/triggers/{key:str}",
    tags=["triggers"],
    opt=requires("manage"),
    summary="One trigger",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def read_trigger(request: Req, conn: Conn, key: Key) -> TriggerOut:
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
    responses={
        201: ResponseSpec(TriggerOut, description="Created", generate_examples=False),
        **problems(400, 401, 403, 413, 422, 503),
    },
    operation_class=ProblemOperation,
)
async def put_trigger(request: Req, conn: Conn, key: Key, data: JSONBody[TriggerIn]) -> Response[TriggerOut]:
    if data.key != key:
        raise invalid("/key", "must equal the key in the path")
    validate_trigger(data)
    await catalog.check_prerequisites(conn, request.auth.brand_id, data)
    async with conn.transaction():
        trigger, created = await catalog.put_trigger(conn, request.auth.brand_id, data, datetime.now(UTC))
    return Response(trigger, status_code=201 if created else 200)


@get(
    "/customers/{external_id:str}",
    tags=["customers"],
    opt=requires("manage"),
    summary="One customer",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def read_customer(request: Req, conn: Conn, external_id: ExternalId) -> Customer:
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
    "`opted_out: false` (opting back in) needs the `manage` scope, and events can never opt a customer back in. "
    "A channel the customer unsubscribed from themselves (`unsubscribed`: a STOP reply, or the carrier's opt-out) "
    "is granted again only by the customer's START or by this call with the `manage` scope; with `ingest` alone, "
    "and from events, such a consent is left withdrawn.",
    responses=problems(
        400, 401, 413, 422, 503, described={403: "The API key lacks the scope (opting back in needs `manage`)."}
    ),
    operation_class=ProblemOperation,
)
async def put_customer(request: Req, conn: Conn, external_id: ExternalId, data: JSONBody[CustomerIn]) -> Customer:
    customer, errors = check_customer(data)
    if errors:
        raise CustomerInvalid(errors)
    if data.opted_out is False and "manage" not in request.auth.scopes:
        raise ApiError(403, "opting a customer back in (opted_out: false) needs the 'manage' scope")

    async def put(conn: asyncpg.Connection, _: int) -> Customer:
        # A customer created concurrently fails this with a unique violation: the retry finds and updates it.
        stored, _changes = await customers.put_customer(
            conn,
            request.auth.brand_id,
            external_id,
            customer,
            datetime.now(UTC),
            opt_in="manage" in request.auth.scopes,
        )
        return stored

    return await db.with_retries(conn, put)


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
