"""What the inbound webhook's look-ups read, among other brands' senders, a customer's long history and a brand's
many open conversations: index look-ups whose cost does not grow with any of them (the webhook answers while
Twilio waits).

Rows read are PostgreSQL's own counts for the transaction (``pg_stat_xact_user_tables``), under both plans a
prepared statement may run with: the one made for its values, and the generic one it settles on after a few
executions."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from responses import conversations, inbound
from responses.inbound import Incoming
from server import db
from tests.conftest import BrandFixture
from tests.helpers import PHONE
from tests.responses.factories import sent_invitation

PLANS = ["force_custom_plan", "force_generic_plan"]
SENDER = "+15017122661"


async def rows_read(conn: asyncpg.Connection, table: str) -> int:
    """Rows of `table` this transaction read so far, by scans and index look-ups."""
    read = await conn.fetchval(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
        "WHERE relname = $1",
        table,
    )
    return int(read or 0)


async def other_brands_senders(conn: asyncpg.Connection, brands: int) -> None:
    """`brands` other brands, each with an SMS number of its own (a tenth of them a Messaging Service)."""
    await conn.execute(
        """
        WITH b AS (
            INSERT INTO brands (slug, name) SELECT 'other-' || g, 'Other ' || g FROM generate_series(1, $1) g
            RETURNING brand_id, slug
        )
        INSERT INTO brand_senders (brand_id, channel, config)
        SELECT brand_id, 'sms', CASE WHEN n % 10 = 0
            THEN jsonb_build_object('messaging_service_sid', 'MG' || lpad(n::text, 32, '0'))
            ELSE jsonb_build_object('from', '+1415' || lpad(n::text, 7, '0')) END
        FROM (SELECT brand_id, split_part(slug, '-', 2)::int AS n FROM b) numbered
        """,
        brands,
    )
    await conn.execute("ANALYZE brands; ANALYZE brand_senders")


@pytest.mark.parametrize("plan", PLANS)
async def test_the_brand_of_a_sender_is_looked_up_not_scanned_for(
    conn: asyncpg.Connection, brand: BrandFixture, plan: str
) -> None:
    await conn.execute(
        "INSERT INTO brand_senders (brand_id, channel, config) VALUES ($1, 'sms', $2)",
        brand.brand.brand_id,
        {"from": SENDER},
    )
    await other_brands_senders(conn, 3000)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL plan_cache_mode = {plan}")
        found = await inbound.find_brand(conn, channel="sms", from_phone=PHONE, to_address=SENDER)
        service = await inbound.find_brand(
            conn,
            channel="sms",
            from_phone=PHONE,
            to_address="+447700900001",
            messaging_service_sid="MG" + "0" * 30 + "30",
        )
        assert found == brand.brand.brand_id
        assert service is not None and service != found
        assert await rows_read(conn, "brand_senders") <= 4  # of 3,001


@pytest.mark.parametrize("plan", PLANS)
async def test_the_customer_of_a_phone_is_found_without_reading_their_history(
    conn: asyncpg.Connection, brand: BrandFixture, plan: str
) -> None:
    """A household shares the phone: the message is the customer's the brand last messaged there, however many
    invitations the other one has had."""
    regular = await sent_invitation(conn, brand, "store_visit_nps", external_id="regular", phone=PHONE)
    await conn.execute(
        """
        WITH i AS (
            INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                                     questionnaire_version, status, occurred_at, planned_at, send_by, expires_at,
                                     channels, channel, attempts, created_at)
            SELECT $1, lxt_uuid7(), lxt_uuid7(), $2, lxt_uuid7(), 'store_visit_nps', 1, 'sent', t, t, t, t,
                   '{sms}', 'sms', 1, t
            FROM generate_series(1, 500) g, LATERAL (SELECT now() - g * interval '1 day' AS t) at
            RETURNING brand_id, invitation_id, created_at
        )
        INSERT INTO messages (brand_id, invitation_id, attempt, channel, provider, style, recipient, sender, status,
                              body, created_at)
        SELECT brand_id, invitation_id, 1, 'sms', 'twilio', 'link', $3, $4, 'accepted', 'How was it?', created_at
        FROM i
        """,
        brand.brand.brand_id,
        regular.customer_id,
        PHONE,
        SENDER,
    )
    # The other customer with the phone was messaged last, and the regular one updated since.
    last = await sent_invitation(conn, brand, "store_visit_nps", external_id="partner", phone=PHONE)
    await conn.execute("UPDATE customers SET updated_at = now() WHERE customer_id = $1", regular.customer_id)
    await conn.execute("ANALYZE")
    async with conn.transaction():
        await conn.execute(f"SET LOCAL plan_cache_mode = {plan}")
        stored = await inbound.receive(
            conn,
            Incoming(
                provider="twilio",
                channel="sms",
                provider_message_id="SMcosts",
                from_phone=PHONE,
                to_address=SENDER,
                body="9",
                payload={},
                brand_id=brand.brand.brand_id,
            ),
            datetime.now(UTC),
        )
        assert stored is not None and stored.customer_id == last.customer_id
        assert await rows_read(conn, "invitations") <= 2  # of 502
        assert await rows_read(conn, "messages") <= 4  # of 502


async def explained(conn: asyncpg.Connection, sql: str, *args: object) -> dict:
    """`sql` run under EXPLAIN (ANALYZE, BUFFERS) and rolled back: its plan, with what each node read."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        [plan] = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *args)
    finally:
        await transaction.rollback()
    return plan["Plan"]


async def test_stop_closes_a_brands_conversations_with_the_phone_by_a_look_up(
    conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    """STOP closes the brand's open conversations with the phone on every sender: with thousands open on dozens
    of senders, only the phone's entries are read."""
    brand_id = brand.brand.brand_id
    await conn.execute(
        """
        INSERT INTO conversations (brand_id, invitation_id, customer_id, channel, sender, recipient, locale,
                                   question_id, opened_at, last_activity_at)
        SELECT $1, lxt_uuid7(), lxt_uuid7(), 'sms', '+4477009' || lpad((g % 50)::text, 5, '0'),
               '+49151' || lpad(g::text, 8, '0'), 'en', 'nps', now(), now()
        FROM generate_series(1, 5000) g
        """,
        brand_id,
    )
    await conn.execute(
        "INSERT INTO conversations (brand_id, invitation_id, customer_id, channel, sender, recipient, locale, "
        "question_id, opened_at, last_activity_at) VALUES ($1, lxt_uuid7(), lxt_uuid7(), 'sms', $2, $3, 'en', "
        "'nps', now(), now())",
        brand_id,
        SENDER,
        PHONE,
    )
    await conn.execute("ANALYZE conversations")
    now = datetime.now(UTC)
    plan = await explained(conn, conversations._CLOSE_WITH, brand_id, "sms", PHONE, now, "stopped")
    [scan] = plan["Plans"]
    assert scan["Actual Rows"] == 1
    assert scan["Shared Hit Blocks"] + scan["Shared Read Blocks"] <= 6
    assert await conn.fetchval("SELECT count(*) FROM conversations WHERE closed_at IS NULL") == 5001


async def test_the_look_ups_are_planned_once_not_on_every_message(
    conn: asyncpg.Connection, brand: BrandFixture, database_url: str
) -> None:
    """A prepared statement is planned for its values a few times, then settles on its generic plan unless that
    looks costlier: the brand and customer look-ups must not look costlier, or every webhook plans them again."""
    await conn.execute(
        "INSERT INTO brand_senders (brand_id, channel, config) VALUES ($1, 'sms', $2)",
        brand.brand.brand_id,
        {"from": SENDER},
    )
    await other_brands_senders(conn, 300)
    # The brand's customers, each messaged once from its number, as a brand in service has them.
    await conn.execute(
        """
        WITH c AS (
            INSERT INTO customers (brand_id, customer_id, external_id, phone)
            SELECT $1, lxt_uuid7(), 'c' || g, '+49152' || lpad(g::text, 8, '0') FROM generate_series(1, 2000) g
            RETURNING customer_id, phone
        ), i AS (
            INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                                     questionnaire_version, status, occurred_at, planned_at, send_by, expires_at,
                                     channels, channel, attempts)
            SELECT $1, lxt_uuid7(), lxt_uuid7(), customer_id, lxt_uuid7(), 'store_visit_nps', 1, 'sent', now(),
                   now(), now(), now() + interval '1 day', '{sms}', 'sms', 1
            FROM c
            RETURNING invitation_id, customer_id
        )
        INSERT INTO messages (brand_id, invitation_id, attempt, channel, provider, style, recipient, sender, status,
                              body)
        SELECT $1, i.invitation_id, 1, 'sms', 'twilio', 'link', c.phone, $2, 'accepted', 'How was it?'
        FROM i JOIN c USING (customer_id)
        """,
        brand.brand.brand_id,
        SENDER,
    )
    await sent_invitation(conn, brand, "store_visit_nps", phone=PHONE, sender=SENDER)
    await conn.execute("ANALYZE")
    webhook = await db.connect(database_url)  # its prepared statements are the webhook's alone
    try:
        for n in range(10):
            async with webhook.transaction():
                message = Incoming(
                    provider="twilio",
                    channel="sms",
                    provider_message_id=f"SMplanned{n}",
                    from_phone=PHONE,
                    to_address=SENDER,
                    body="9",
                    payload={},
                )
                stored = await inbound.receive(webhook, message, datetime.now(UTC))
                assert stored is not None and stored.brand_id == brand.brand.brand_id
                assert stored.customer_id is not None
        plans = await webhook.fetch(
            "SELECT generic_plans, custom_plans, left(statement, 60) AS statement FROM pg_prepared_statements "
            "WHERE statement NOT LIKE '%pg_prepared_statements%'"
        )
    finally:
        await webhook.close()
    assert plans
    assert all(p["generic_plans"] >= 5 for p in plans), [tuple(p) for p in plans]
