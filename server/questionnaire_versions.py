"""Storing questionnaires: publishing immutable versions, listing, archiving. All SQL of those two tables.

Publishing the same definition again (same canonical JSON) returns the version already stored instead of
creating a new one, so ``lxt questionnaire push`` can run on every deploy.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from questionnaires.locales import resolve
from questionnaires.model import Definition
from questionnaires.validate import DefinitionWarning, validate_definition

_canonical = msgspec.json.Encoder(order="sorted").encode
_definition = msgspec.json.Decoder(Definition)


class Summary(msgspec.Struct, kw_only=True):
    key: str
    title: str
    latest_version: int
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class Version(msgspec.Struct, kw_only=True):
    """One immutable published version."""

    key: str
    version: int
    published_at: datetime
    checksum: str
    warnings: list[DefinitionWarning]
    archived: bool
    definition: Definition


class VersionInfo(msgspec.Struct, kw_only=True):
    version: int
    published_at: datetime
    checksum: str
    warnings: int


async def publish(conn: asyncpg.Connection, brand_id: UUID, definition: Definition) -> tuple[Version, bool]:
    """Store `definition` (already validated) as the next version; True if a new version was created.

    Runs in its own transaction; the questionnaire row lock serialises concurrent publishes of one key.
    """
    canonical = _canonical(definition)
    checksum = hashlib.sha256(canonical).digest()
    warnings = validate_definition(definition)
    title = resolve(definition.title, definition.default_locale, definition.default_locale)
    async with conn.transaction():
        latest = await conn.fetchrow(
            """
            INSERT INTO questionnaires (brand_id, key, title, latest_version) VALUES ($1, $2, $3, 0)
            ON CONFLICT (brand_id, key) DO UPDATE SET key = EXCLUDED.key
            RETURNING latest_version,
                      (SELECT checksum FROM questionnaire_versions v
                       WHERE v.brand_id = $1 AND v.key = $2 AND v.version = questionnaires.latest_version)
            """,
            brand_id,
            definition.key,
            title,
        )
        assert latest is not None
        if latest["checksum"] == checksum:
            await conn.execute(
                "UPDATE questionnaires SET archived_at = NULL WHERE brand_id = $1 AND key = $2",
                brand_id,
                definition.key,
            )
            version = await get_version(conn, brand_id, definition.key, latest["latest_version"])
            assert version is not None
            return version, False
        number = latest["latest_version"] + 1
        await conn.execute(
            """
            INSERT INTO questionnaire_versions (brand_id, key, version, definition, checksum, warnings)
            VALUES ($1, $2, $3, $4::text::jsonb, $5, $6)
            """,
            brand_id,
            definition.key,
            number,
            canonical.decode(),
            checksum,
            msgspec.to_builtins(warnings),
        )
        await conn.execute(
            """
            UPDATE questionnaires SET latest_version = $3, title = $4, updated_at = now(), archived_at = NULL
            WHERE brand_id = $1 AND key = $2
            """,
            brand_id,
            definition.key,
            number,
            title,
        )
        version = await get_version(conn, brand_id, definition.key, number)
        assert version is not None
        return version, True


_SUMMARY = "key, title, latest_version, created_at, updated_at, archived_at"


async def list_questionnaires(conn: asyncpg.Connection, brand_id: UUID, include_archived: bool) -> list[Summary]:
    rows = await conn.fetch(
        f"SELECT {_SUMMARY} FROM questionnaires WHERE brand_id = $1 AND latest_version > 0 "
        "AND ($2 OR archived_at IS NULL) ORDER BY key",
        brand_id,
        include_archived,
    )
    return [Summary(**dict(r)) for r in rows]


async def get_version(
    conn: asyncpg.Connection, brand_id: UUID, key: str, version: int | None = None
) -> Version | None:
    """A version (the latest when `version` is None)."""
    row = await conn.fetchrow(
        """
        SELECT v.key, v.version, v.published_at, encode(v.checksum, 'hex') AS checksum, v.warnings,
               q.archived_at IS NOT NULL AS archived, v.definition::text AS definition
        FROM questionnaires q
        JOIN questionnaire_versions v ON v.brand_id = q.brand_id AND v.key = q.key
             AND v.version = coalesce($3, q.latest_version)
        WHERE q.brand_id = $1 AND q.key = $2
        """,
        brand_id,
        key,
        version,
    )
    if row is None:
        return None
    values = dict(row)
    values["definition"] = _definition.decode(values["definition"])
    values["warnings"] = msgspec.convert(values["warnings"], list[DefinitionWarning])
    return Version(**values)


async def list_versions(conn: asyncpg.Connection, brand_id: UUID, key: str) -> list[VersionInfo]:
    rows = await conn.fetch(
        """
        SELECT version, published_at, encode(checksum, 'hex') AS checksum, jsonb_array_length(warnings) AS warnings
        FROM questionnaire_versions WHERE brand_id = $1 AND key = $2 ORDER BY version
        """,
        brand_id,
        key,
    )
    return [VersionInfo(**dict(r)) for r in rows]


async def set_archived(conn: asyncpg.Connection, brand_id: UUID, key: str, archived: bool) -> Summary | None:
    """Archive (no new invitations; data and versions stay) or bring back a questionnaire."""
    row = await conn.fetchrow(
        f"""
        UPDATE questionnaires SET archived_at = CASE WHEN $3 THEN coalesce(archived_at, now()) END, updated_at = now()
        WHERE brand_id = $1 AND key = $2 AND latest_version > 0 RETURNING {_SUMMARY}
        """,
        brand_id,
        key,
        archived,
    )
    return Summary(**dict(row)) if row else None
