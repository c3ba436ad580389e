"""What the schema itself guarantees (migrations/0005), whichever code writes: ids are UUIDv7, an API key hash
names one key, questionnaire versions can be neither changed nor deleted, and idempotency keys stored before the
keys had a table of their own still count."""

import uuid

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from server import db, migrate, tenants
from tests.conftest import BrandFixture
from tests.helpers import event, publish_example, report, survey_setup


async def test_ids_made_by_the_database_are_uuidv7(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, run_worker
) -> None:
    await survey_setup(client, brand)
    await report(client, brand, event("e1"))
    await run_worker()
    for table, column in [("brands", "brand_id"), ("api_keys", "key_id"), ("triggers", "trigger_id"),
                          ("messages", "message_id"), ("customers", "customer_id"), ("events", "event_id"),
                          ("invitations", "invitation_id")]:  # fmt: skip
        ids = await conn.fetch(f"SELECT {column} FROM {table}")
        assert ids, table
        assert {uuid.UUID(str(r[0])).version for r in ids} == {7}, table
    created = await client.put("/v1/customers/api-made", json={}, headers=brand.headers("manage"))
    assert created.status_code == 200
    made = await conn.fetchval("SELECT customer_id::text FROM customers WHERE external_id = 'api-made'")
    assert uuid.UUID(made).version == 7


async def test_no_id_defaults_to_a_random_uuid(conn: asyncpg.Connection) -> None:
    """Every table's id default is a UUIDv7; random bytes are for secrets only (a brand's pseudonym key)."""
    random = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_default LIKE '%gen_random_uuid%' ORDER BY 1, 2"
    )
    assert [tuple(r) for r in random] == [("brands", "pseudonym_key")]


async def test_an_api_key_hash_names_one_key(brand: BrandFixture, conn: asyncpg.Connection) -> None:
    key_hash = await conn.fetchval("SELECT key_hash FROM api_keys LIMIT 1")
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            "INSERT INTO api_keys (brand_id, prefix, key_hash, scopes) VALUES ($1, 'abcdefgh', $2, '{ingest}')",
            brand.brand.brand_id,
            key_hash,
        )


async def test_questionnaire_versions_can_be_neither_changed_nor_deleted(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await publish_example(client, brand)
    for statement in (
        "UPDATE questionnaire_versions SET warnings = '[]'",
        "DELETE FROM questionnaire_versions",
        "TRUNCATE questionnaire_versions",
    ):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="immutable"):
            await conn.execute(statement)
    assert await conn.fetchval("SELECT count(*) FROM questionnaire_versions") == 1


async def test_keys_of_events_stored_before_the_key_table_still_count(empty_database: str) -> None:
    conn = await db.connect(empty_database)
    try:
        every = migrate.load()
        await migrate.migrate(conn, [m for m in every if m.version < 5])
        brand = await tenants.create_brand(conn, "old", "Old")
        await conn.execute(
            """
            INSERT INTO events (brand_id, event_id, idempotency_key, payload_hash, touchpoint_key, touchpoint_known,
                                customer_id, occurred_at, received_at, outcome, reason)
            VALUES ($1, gen_random_uuid(), 'pos-1', '\\x01', 'visit', true, gen_random_uuid(), now(), now(),
                    'not_surveyed', 'no_trigger')
            """,
            brand.brand_id,
        )
        await migrate.migrate(conn, every)
        kept = await conn.fetchrow("SELECT idempotency_key, payload_hash FROM idempotency_keys")
        assert (kept["idempotency_key"], bytes(kept["payload_hash"])) == ("pos-1", b"\x01")
        assert (
            await conn.fetchval("SELECT count(*) FROM idempotency_keys k JOIN events e USING (brand_id, event_id)")
            == 1
        )
    finally:
        await conn.close()


async def test_a_provider_message_id_names_one_inbound_message_across_brands(empty_database: str) -> None:
    """Copies of one provider message that a retried webhook stored in a second brand before 0010 are kept once,
    the first; from then on the schema refuses another, whichever brand it would be for."""
    conn = await db.connect(empty_database)
    try:
        every = migrate.load()
        await migrate.migrate(conn, [m for m in every if m.version < 10])
        first = await tenants.create_brand(conn, "acme", "Acme")
        second = await tenants.create_brand(conn, "globex", "Globex")
        store = """
            INSERT INTO inbound_messages (brand_id, channel, provider, provider_message_id, from_phone, to_address,
                                          body, received_at)
            VALUES ($1, 'sms', $2, $3, '+4915112345678', '+447700900123', 'Yes', now() + $4 * interval '1 second')
        """
        await conn.execute(store, first.brand_id, "twilio", "SMretried", 0)
        await conn.execute(store, second.brand_id, "twilio", "SMretried", 1)  # the retry, in the other brand
        await conn.execute(store, second.brand_id, "twilio", "SMother", 2)
        await conn.execute(store, second.brand_id, "sandbox", "SMretried", 3)  # another provider's id space
        await migrate.migrate(conn, every)
        kept = await conn.fetch(
            "SELECT brand_id, provider, provider_message_id FROM inbound_messages ORDER BY received_at"
        )
        assert [tuple(r) for r in kept] == [
            (first.brand_id, "twilio", "SMretried"),
            (second.brand_id, "twilio", "SMother"),
            (second.brand_id, "sandbox", "SMretried"),
        ]
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(store, second.brand_id, "twilio", "SMretried", 4)
    finally:
        await conn.close()
