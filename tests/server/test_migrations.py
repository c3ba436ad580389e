import asyncio
import hashlib
from pathlib import Path

import asyncpg
import pytest

from server import db, migrate


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


async def test_applies_every_file_once_and_records_checksums(empty_database: str) -> None:
    conn = await db.connect(empty_database)
    try:
        applied = await migrate.migrate(conn)
        on_disk = migrate.load()
        assert applied == [m.name for m in on_disk]
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        for row, migration in zip(rows, on_disk, strict=True):
            path = migrate.MIGRATIONS_DIR / f"{migration.name}.sql"
            assert row["checksum"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert await migrate.migrate(conn) == []
        assert await migrate.is_current(conn, on_disk)
    finally:
        await conn.close()


async def test_concurrent_starters_apply_each_file_exactly_once(empty_database: str, tmp_path: Path) -> None:
    # A migration that is not idempotent: if two processes ran it, the second INSERT would violate the key.
    write(tmp_path, "0001_counter.sql", "CREATE TABLE ran (id int PRIMARY KEY); INSERT INTO ran VALUES (1);")
    write(tmp_path, "0002_slow.sql", "SELECT pg_sleep(0.2); INSERT INTO ran VALUES (2);")
    migrations = migrate.load(tmp_path)
    conns = [await db.connect(empty_database) for _ in range(6)]
    try:
        results = await asyncio.gather(*(migrate.migrate(c, migrations) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 0, 0, 0, 2]
        assert await conns[0].fetchval("SELECT count(*) FROM ran") == 2
        assert await conns[0].fetchval("SELECT count(*) FROM schema_migrations") == 2
    finally:
        for c in conns:
            await c.close()


async def test_an_edited_applied_migration_is_refused(empty_database: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_first.sql", "CREATE TABLE first (id int);")
    conn = await db.connect(empty_database)
    try:
        await migrate.migrate(conn, migrate.load(tmp_path))
        write(tmp_path, "0001_first.sql", "CREATE TABLE first (id bigint);")
        write(tmp_path, "0002_second.sql", "CREATE TABLE second (id int);")
        with pytest.raises(migrate.MigrationError, match=r"0001_first\.sql was changed after it was applied"):
            await migrate.migrate(conn, migrate.load(tmp_path))
        # Nothing after the refused file ran.
        assert await conn.fetchval("SELECT to_regclass('second')") is None
        assert not await migrate.is_current(conn, migrate.load(tmp_path))
    finally:
        await conn.close()


async def test_a_failing_migration_rolls_back_alone(empty_database: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int);")
    write(tmp_path, "0002_broken.sql", "CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await db.connect(empty_database)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate.migrate(conn, migrate.load(tmp_path))
        assert await conn.fetchval("SELECT to_regclass('ok')") is not None
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
    finally:
        await conn.close()


def test_file_names_must_be_numbered_without_gaps(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "")
    write(tmp_path, "0003_c.sql", "")
    with pytest.raises(migrate.MigrationError, match="expected migration number 0002"):
        migrate.load(tmp_path)
    write(tmp_path, "0002-b.sql", "")
    with pytest.raises(migrate.MigrationError, match="NNNN_lowercase_words"):
        migrate.load(tmp_path)


def test_the_repository_migrations_load() -> None:
    migrations = migrate.load()
    assert migrations[0].name == "0001_brands_and_keys"
