"""Brands and their API keys: key generation and hashing, and all SQL for both tables."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec
from msgspec import Meta

from research.erasure import ErasurePolicy

Scope = Literal["ingest", "manage", "export", "export_pii"]
SCOPES: tuple[Scope, ...] = ("ingest", "manage", "export", "export_pii")
Slug = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="lowercase letters, digits, -")]
KEY_PREFIX = "lxt_"


class Brand(msgspec.Struct, frozen=True, kw_only=True):
    brand_id: UUID
    slug: str
    name: str
    auto_create_touchpoints: bool = False
    """Register unknown touchpoint keys on first use instead of only flagging their events."""
    survey_gap: timedelta | None = None
    """At most one survey per customer per this long, across all of the brand's triggers."""
    daily_survey_cap: int | None = None
    """At most this many surveys per customer per local day, across all of the brand's triggers."""
    retention: timedelta | None = None
    """Raw events, messages and answers older than this are anonymised by the hourly retention job; null: kept."""
    erasure: ErasurePolicy = "anonymise"
    """What erasing a customer does with their rows once the personal data is gone: keep them unlinked from
    anyone for statistics (`anonymise`), or remove them (`delete`)."""
    created_at: datetime


_NEW_BRAND = "brand_id, slug, name, auto_create_touchpoints, survey_gap, daily_survey_cap, created_at"
"""What creating a brand reads back: the rest are the defaults, the struct's as the database's (and a database
migrated only part of the way, as tests of old migrations have it, lacks their columns)."""
_BRAND = f"{_NEW_BRAND}, retention, erasure"
_SETTABLE = ("name", "auto_create_touchpoints", "survey_gap", "daily_survey_cap", "retention", "erasure")


class ApiKey(msgspec.Struct, frozen=True):
    """A key as listed: never the secret, only its prefix."""

    key_id: UUID
    prefix: str
    scopes: list[str]
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the brand and scopes of a verified, unrevoked API key."""

    brand_id: UUID
    brand_slug: str
    key_id: UUID
    prefix: str
    scopes: frozenset[str]


class SlugTaken(Exception):
    def __init__(self, slug: str) -> None:
        super().__init__(f"a brand with slug {slug!r} already exists")
        self.slug = slug


def effective_scopes(scopes: list[str]) -> frozenset[str]:
    """What a key may do: its scopes, where `export_pii` admits everything `export` admits (and more: contact
    data in exports)."""
    granted = frozenset(scopes)
    return granted | {"export"} if "export_pii" in granted else granted


def new_key() -> tuple[str, str, bytes]:
    """(full key, prefix, hash). The full key is shown once and never stored."""
    prefix = secrets.token_hex(5)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_key(key)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX) and 20 < len(token) < 100


async def create_brand(conn: asyncpg.Connection, slug: str, name: str) -> Brand:
    try:
        row = await conn.fetchrow(
            f"INSERT INTO brands (slug, name) VALUES ($1, $2) RETURNING {_NEW_BRAND}",
            slug,
            name,
        )
    except asyncpg.UniqueViolationError:
        raise SlugTaken(slug) from None
    assert row is not None
    return Brand(**dict(row))


async def get_brand(conn: asyncpg.Connection, brand_id: UUID) -> Brand | None:
    row = await conn.fetchrow(f"SELECT {_BRAND} FROM brands WHERE brand_id = $1", brand_id)
    return Brand(**dict(row)) if row else None


async def list_brands(conn: asyncpg.Connection) -> list[Brand]:
    """Every brand, by slug (operators' view: the CLI)."""
    return [Brand(**dict(r)) for r in await conn.fetch(f"SELECT {_BRAND} FROM brands ORDER BY slug")]


async def brand_by_slug(conn: asyncpg.Connection, slug: str) -> Brand | None:
    row = await conn.fetchrow(f"SELECT {_BRAND} FROM brands WHERE slug = $1", slug)
    return Brand(**dict(row)) if row else None


async def update_brand(conn: asyncpg.Connection, brand_id: UUID, changes: dict[str, object]) -> Brand | None:
    """Set the given brand settings (keys of `_SETTABLE`; None clears the optional ones)."""
    columns = [name for name in _SETTABLE if name in changes]
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(columns, start=2)) or "name = name"
    row = await conn.fetchrow(
        f"UPDATE brands SET {assignments} WHERE brand_id = $1 RETURNING {_BRAND}",
        brand_id,
        *(changes[name] for name in columns),
    )
    return Brand(**dict(row)) if row else None


_KEY_COLUMNS = "key_id, prefix, scopes, name, created_at, last_used_at, revoked_at"


async def create_key(
    conn: asyncpg.Connection, brand_id: UUID, scopes: list[str], name: str = ""
) -> tuple[str, ApiKey]:
    key, prefix, key_hash = new_key()
    row = await conn.fetchrow(
        f"INSERT INTO api_keys (brand_id, prefix, key_hash, scopes, name) VALUES ($1, $2, $3, $4, $5) "
        f"RETURNING {_KEY_COLUMNS}",
        brand_id,
        prefix,
        key_hash,
        sorted(set(scopes)),
        name,
    )
    assert row is not None
    return key, ApiKey(**dict(row))


async def list_keys(conn: asyncpg.Connection, brand_id: UUID) -> list[ApiKey]:
    rows = await conn.fetch(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE brand_id = $1 ORDER BY created_at, prefix", brand_id
    )
    return [ApiKey(**dict(r)) for r in rows]


async def revoke_key(conn: asyncpg.Connection, prefix: str, brand_id: UUID | None = None) -> ApiKey | None:
    """Revoke by prefix, within one brand (API) or any brand (operator CLI). Revoking twice keeps the first time.

    Running API processes are told at once through NOTIFY, so their key caches drop the key.
    """
    row = await conn.fetchrow(
        f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
        f"WHERE prefix = $1 AND ($2::uuid IS NULL OR brand_id = $2) RETURNING {_KEY_COLUMNS}",
        prefix,
        brand_id,
    )
    if row is None:
        return None
    await conn.execute("SELECT pg_notify('lxt_key_revoked', $1)", str(row["key_id"]))
    return ApiKey(**dict(row))


async def verify_key(conn: asyncpg.Connection, key: str) -> Principal | None:
    """The principal of an unrevoked key, recording its use; None for unknown or revoked keys."""
    row = await conn.fetchrow(
        "UPDATE api_keys k SET last_used_at = now() FROM brands b "
        "WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND b.brand_id = k.brand_id "
        "RETURNING k.brand_id, b.slug, k.key_id, k.prefix, k.scopes",
        hash_key(key),
    )
    if row is None:
        return None
    return Principal(
        brand_id=row["brand_id"],
        brand_slug=row["slug"],
        key_id=row["key_id"],
        prefix=row["prefix"],
        scopes=effective_scopes(row["scopes"]),
    )
