"""Schema migrations: numbered plain-SQL files in ``migrations/``, applied in order.

Each file runs in its own transaction and is recorded in ``schema_migrations`` with a SHA-256 checksum. A
session-level advisory lock serialises concurrent starters (several API and worker processes booting at once):
the first applies what is missing, the others wait and then find nothing to do. A file that was edited after
it was applied is refused, because the database no longer matches what the file says.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import asyncpg
import msgspec

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Arbitrary but fixed: "lxt" + "mig" in ASCII, so it cannot collide with another application's lock by accident.
LOCK_KEY = 0x6C78_746D_6967
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The migrations on disk and in the database disagree."""


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    checksum: str
    sql: str


def load(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read and check the migration files: names ``NNNN_words.sql``, numbered 1, 2, 3 … without gaps."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lowercase_words.sql")
        data = path.read_bytes()
        migrations.append(
            Migration(
                version=int(match[1]),
                name=path.stem,
                checksum=hashlib.sha256(data).hexdigest(),
                sql=data.decode(),
            )
        )
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(f"{migration.name}: expected migration number {expected:04d}")
    return migrations


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def applied(conn: asyncpg.Connection) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) of what the database has applied; empty before the first migration."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    return {r["version"]: (r["name"], r["checksum"]) for r in rows}


def verify(migrations: list[Migration], done: dict[int, tuple[str, str]]) -> list[Migration]:
    """Return the pending migrations; raise if an applied one was edited or is missing on disk."""
    on_disk = {m.version: m for m in migrations}
    for version, (name, checksum) in sorted(done.items()):
        migration = on_disk.get(version)
        if migration is None:
            raise MigrationError(f"{name} is applied in the database but missing in {MIGRATIONS_DIR.name}/")
        if migration.checksum != checksum:
            raise MigrationError(
                f"{migration.name}.sql was changed after it was applied (checksum {checksum[:12]}… in the "
                f"database, {migration.checksum[:12]}… on disk). Applied migrations are immutable: "
                "revert the edit and put the change in a new numbered file."
            )
    return [m for m in migrations if m.version not in done]


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations; return the names applied (empty when the schema is current)."""
    migrations = load() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        pending = verify(migrations, await applied(conn))
        for migration in pending:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        return [m.name for m in pending]
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def is_current(conn: asyncpg.Connection, migrations: list[Migration]) -> bool:
    try:
        return not verify(migrations, await applied(conn))
    except MigrationError:
        return False
