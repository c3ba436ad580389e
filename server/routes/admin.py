"""Operator API: create brands over HTTP with `LXT_ADMIN_TOKEN` (the CLI does the same locally)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody
from msgspec import Meta

from plumbing.errors import FieldError
from server import tenants
from server.deps import Conn
from server.errors import ApiError, ProblemOperation, problems
from server.routes.brand import CreatedKey
from server.routes.params import BrandSlug
from server.tenants import Brand, Scope, Slug


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    expected: str = connection.app.state.settings.admin_token
    if not expected:
        raise NotFoundException()  # the admin API does not exist unless an operator enabled it
    scheme, _sep, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise NotAuthorizedException("send the operator token as 'Authorization: Bearer <token>'")


_ADMIN = {
    401: "No operator token, or not the one in `LXT_ADMIN_TOKEN`.",
    404: "The admin API is off (`LXT_ADMIN_TOKEN` is not set).",
}


class BrandCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: Slug
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    key_scopes: Annotated[list[Scope], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["ingest", "manage", "export"]
    )


class CreatedBrand(msgspec.Struct):
    brand: Brand
    key: CreatedKey


@post(
    "/brands",
    tags=["admin"],
    summary="Create a brand and its first API key",
    responses=problems(400, 404, 413, 422, 503, described=_ADMIN | {409: "A brand with this slug exists."}),
    operation_class=ProblemOperation,
)
async def create_brand(conn: Conn, data: JSONBody[BrandCreate]) -> CreatedBrand:
    async with conn.transaction():
        try:
            brand = await tenants.create_brand(conn, data.slug, data.name)
        except tenants.SlugTaken as exc:
            raise ApiError(409, str(exc), errors=[FieldError("/slug", str(exc))]) from None
        key, created = await tenants.create_key(conn, brand.brand_id, list(data.key_scopes), "initial")
    return CreatedBrand(brand=brand, key=CreatedKey.of(key, created))


@get(
    "/brands/{slug:str}",
    tags=["admin"],
    summary="One brand by slug",
    responses=problems(422, 503, described=_ADMIN | {404: "No brand with this slug, or the admin API is off."}),
    operation_class=ProblemOperation,
)
async def read_brand(conn: Conn, slug: BrandSlug) -> Brand:
    brand = await tenants.brand_by_slug(conn, slug)
    if brand is None:
        raise NotFoundException(f"no brand {slug!r}")
    return brand


ROUTES = [create_brand, read_brand]
