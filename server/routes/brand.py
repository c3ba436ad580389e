"""The calling brand and its API keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody
from msgspec import Meta

from research.erasure import ErasurePolicy
from research.retention import check_retention
from server import tenants
from server.auth import ANY_SCOPE, requires
from server.deps import Conn
from server.errors import ApiError, ProblemOperation, problems
from server.routes.params import KeyPrefix
from server.tenants import ApiKey, Brand, Principal, Scope
from triggers.frequency import check_brand_rules

Name = Annotated[str, Meta(min_length=1, max_length=200)]


class BrandUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings to change; fields left out stay as they are."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    auto_create_touchpoints: bool | msgspec.UnsetType = msgspec.UNSET
    """Register unknown touchpoint keys on first use (events are stored and flagged either way)."""
    survey_gap: timedelta | msgspec.UnsetType | None = msgspec.UNSET
    """At most one survey per customer per this long across all triggers (ISO 8601, e.g. P7D); null: none."""
    daily_survey_cap: Annotated[int, Meta(ge=1, le=100)] | msgspec.UnsetType | None = msgspec.UNSET
    """At most this many surveys per customer per local day across all triggers; null: none."""
    retention: timedelta | msgspec.UnsetType | None = msgspec.UNSET
    """Anonymise raw events, messages and answers older than this (ISO 8601, at least P1D, e.g. P90D); null: keep
    them. Customers' contact data is not aged out: erasing a customer removes it."""
    erasure: ErasurePolicy | msgspec.UnsetType = msgspec.UNSET
    """What erasing a customer leaves: `anonymise` keeps their coded answers and events unlinked from anyone,
    `delete` removes them."""


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=4)]
    name: Annotated[str, Meta(max_length=200)] = ""


class CreatedKey(msgspec.Struct, kw_only=True):
    """The new key. `key` is shown this once and cannot be retrieved again."""

    key: str
    key_id: UUID
    prefix: str
    scopes: list[str]
    name: str
    created_at: datetime

    @classmethod
    def of(cls, key: str, created: ApiKey) -> CreatedKey:
        return cls(
            key=key,
            key_id=created.key_id,
            prefix=created.prefix,
            scopes=created.scopes,
            name=created.name,
            created_at=created.created_at,
        )


@get(
    "/brand",
    tags=["brand"],
    opt=ANY_SCOPE,
    summary="The brand of the calling API key",
    responses=problems(401, 503),
    operation_class=ProblemOperation,
)
async def read_brand(request: Request[Principal, Principal, State], conn: Conn) -> Brand:
    brand = await tenants.get_brand(conn, request.auth.brand_id)
    if brand is None:
        raise NotFoundException()
    return brand


@patch(
    "/brand",
    tags=["brand"],
    opt=requires("manage"),
    summary="Change brand settings",
    responses=problems(400, 401, 403, 413, 422, 503),
    operation_class=ProblemOperation,
)
async def update_brand(
    request: Request[Principal, Principal, State], conn: Conn, data: JSONBody[BrandUpdate]
) -> Brand:
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    check_brand_rules(changes.get("survey_gap"))
    if errors := check_retention(changes.get("retention")):
        raise ApiError.naming(422, errors)
    brand = await tenants.update_brand(conn, request.auth.brand_id, changes)
    if brand is None:
        raise NotFoundException()
    return brand


@get(
    "/keys",
    tags=["brand"],
    opt=requires("manage"),
    summary="List the brand's API keys",
    responses=problems(401, 403, 503),
    operation_class=ProblemOperation,
)
async def list_keys(request: Request[Principal, Principal, State], conn: Conn) -> list[ApiKey]:
    return await tenants.list_keys(conn, request.auth.brand_id)


@post(
    "/keys",
    tags=["brand"],
    opt=requires("manage"),
    summary="Create an API key (shown once)",
    responses=problems(400, 401, 403, 413, 422, 503),
    operation_class=ProblemOperation,
)
async def create_key(
    request: Request[Principal, Principal, State], conn: Conn, data: JSONBody[KeyCreate]
) -> CreatedKey:
    key, created = await tenants.create_key(conn, request.auth.brand_id, list(data.scopes), data.name)
    return CreatedKey.of(key, created)


@delete(
    "/keys/{prefix:str}",
    tags=["brand"],
    opt=requires("manage"),
    status_code=200,
    summary="Revoke a key",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def revoke_key(request: Request[Principal, Principal, State], conn: Conn, prefix: KeyPrefix) -> ApiKey:
    revoked = await tenants.revoke_key(conn, prefix, request.auth.brand_id)
    if revoked is None:
        raise NotFoundException(f"no API key with prefix {prefix!r}")
    request.app.state.key_cache.drop_key(str(revoked.key_id))
    return revoked


ROUTES = [read_brand, update_brand, list_keys, create_key, revoke_key]
