"""What reading one customer's timeline costs among thousands of the brand's other customers: index look-ups of that
customer's rows in every table, whatever the others have, under both plans a prepared statement may run with.

Rows read are PostgreSQL's own counts for the transaction (``pg_stat_xact_user_tables``), as in
tests/responses/test_inbound_costs.py."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from research.timeline import KINDS, TimelineQuery, customer_timeline
from tests.conftest import BrandFixture
from tests.responses.studies import study_setup
from tests.responses.test_inbound_costs import PLANS, rows_read

CROWD = 2000
TABLES = ("customers", "events", "invitations", "invitation_transitions", "messages", "message_receipts",
          "inbound_messages", "answers", "consent_changes", "study_participants", "self_reports",
          "self_report_comments")  # fmt: skip


async def crowd(conn: asyncpg.Connection, brand: BrandFixture, customers: int) -> None:
    """`customers` customers (c-1 … c-N), each with one of everything a timeline shows: a visit, its decision and
    invitation, two status changes, a message and its receipt, a reply, an answer, a consent change, and a study
    participation with a report and a comment on it."""
    await conn.execute(
        """
        CREATE TEMPORARY TABLE people AS
        SELECT g, lxt_uuid7() AS customer_id, lxt_uuid7() AS event_id, lxt_uuid7() AS invitation_id,
               lxt_uuid7() AS message_id, lxt_uuid7() AS inbound_id, lxt_uuid7() AS participant_id,
               lxt_uuid7() AS report_id, now() - g * interval '1 minute' AS t
        FROM generate_series(1, $1) g
        """,
        customers,
    )
    for statement in (
        """INSERT INTO customers (brand_id, customer_id, external_id, locale)
           SELECT $1, customer_id, 'c-' || g, 'de' FROM people""",
        """INSERT INTO events (brand_id, event_id, idempotency_key, touchpoint_key, touchpoint_known, customer_id,
                               occurred_at, received_at, outcome, invitation_id, planned_at)
           SELECT $1, event_id, 'visit-' || g, 'store_visit', true, customer_id, t, t, 'scheduled', invitation_id, t
           FROM people""",
        """INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                                    questionnaire_version, status, occurred_at, planned_at, send_by, expires_at,
                                    channels, channel, attempts, created_at, response_state, opened_at,
                                    first_answer_at, last_answer_at)
           SELECT $1, invitation_id, event_id, customer_id, lxt_uuid7(), 'store_visit_nps', 1, 'sent', t, t, t, t,
                  '{sms}', 'sms', 1, t, 'partial', t, t, t
           FROM people""",
        """INSERT INTO invitation_transitions (brand_id, invitation_id, from_status, to_status, at)
           SELECT $1, invitation_id, s.f, s.t, people.t FROM people,
                  (VALUES ('scheduled', 'sending'), ('sending', 'sent')) s (f, t)""",
        """INSERT INTO messages (brand_id, message_id, invitation_id, attempt, channel, provider, style, status,
                                 body, created_at)
           SELECT $1, message_id, invitation_id, 1, 'sms', 'twilio', 'conversation', 'accepted', 'Wie?', t
           FROM people""",
        """INSERT INTO message_receipts (brand_id, message_id, status, received_at)
           SELECT $1, message_id, 'delivered', t FROM people""",
        """INSERT INTO inbound_messages (brand_id, inbound_id, channel, provider, provider_message_id, from_phone,
                                         to_address, body, customer_id, received_at, outcome, invitation_id)
           SELECT $1, inbound_id, 'sms', 'twilio', 'SM' || g, '+49151' || lpad(g::text, 8, '0'), '+15017122661',
                  '9', customer_id, t, 'answer', invitation_id
           FROM people""",
        """INSERT INTO answers (brand_id, invitation_id, customer_id, questionnaire_key, questionnaire_version,
                                question_id, value, raw, channel, inbound_id, answered_at)
           SELECT $1, invitation_id, customer_id, 'store_visit_nps', 1, 'nps', '9', '9', 'sms', inbound_id, t
           FROM people""",
        """INSERT INTO consent_changes (brand_id, customer_id, channel, granted, source, changed_at)
           SELECT $1, customer_id, 'sms', true, 'event', t FROM people""",
        """INSERT INTO study_participants (brand_id, participant_id, study_id, customer_id, consented_at,
                                           enrolled_at, diary_starts_at, diary_ends_at)
           SELECT $1, participant_id, (SELECT study_id FROM studies WHERE brand_id = $1), customer_id, t, t, t,
                  t + interval '7 days'
           FROM people""",
        """INSERT INTO self_reports (brand_id, report_id, study_id, participant_id, customer_id, inbound_id, event_id,
                                     brand_letter, brand_name, own_brand, touchpoint_letter, touchpoint_key,
                                     touchpoint_name, positivity, persuasiveness, reported_at)
           SELECT $1, report_id, (SELECT study_id FROM studies WHERE brand_id = $1), participant_id, customer_id,
                  inbound_id, event_id, 'B', 'Bolt', true, 'S', 'store_visit', 'Store', 4, 5, t
           FROM people""",
        """INSERT INTO self_report_comments (brand_id, report_id, comment, written_at)
           SELECT $1, report_id, 'Nett', t FROM people""",
    ):
        await conn.execute(statement, brand.brand.brand_id)
    await conn.execute("ANALYZE")


@pytest.mark.parametrize("plan", PLANS)
async def test_one_customers_timeline_reads_only_that_customers_rows(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, plan: str
) -> None:
    await study_setup(client, brand)  # the questionnaire the answers are to, and the study of the participations
    await crowd(conn, brand, CROWD)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL plan_cache_mode = {plan}")
        before = {table: await rows_read(conn, table) for table in TABLES}
        page = await customer_timeline(conn, brand.brand.brand_id, "c-1", TimelineQuery(limit=100), personal=False)
        read = {table: await rows_read(conn, table) - before[table] for table in TABLES}
        # A kind not asked for is not read at all.
        consents = await customer_timeline(
            conn, brand.brand.brand_id, "c-1", TimelineQuery(kinds=frozenset({"consent"})), personal=False
        )
        only = {table: await rows_read(conn, table) - before[table] - read[table] for table in TABLES}
    assert page is not None
    # One of everything (two status changes), and the invitation has no completion nor expiry.
    assert sorted(item.__struct_config__.tag for item in page.items) == sorted(
        [*(k for k in KINDS if k not in ("completed", "expired")), "invitation_status"]
    )
    # Each branch reads the customer's own rows by index; the invitation once per branch that starts from it.
    assert read["customers"] <= 2, read
    assert read["invitations"] <= 8, read
    assert all(count <= 4 for table, count in read.items() if table not in ("customers", "invitations")), read
    assert consents is not None and [item.__struct_config__.tag for item in consents.items] == ["consent"]
    assert {table: count for table, count in only.items() if count} == {"customers": 1, "consent_changes": 1}
