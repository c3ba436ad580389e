"""Contacts with known outcomes, written with SQL: an event of a trigger's touchpoint at a given time, its decision,
the invitation, its send and delivery, and answers at known minutes after the contact. The statistics tests build
their fixtures from these, so every expected figure can be worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from tests.conftest import BrandFixture


async def customer(conn: asyncpg.Connection, brand: BrandFixture, external_id: str = "c-stats") -> UUID:
    return await conn.fetchval(
        """
        INSERT INTO customers (brand_id, customer_id, external_id, phone, consents)
        VALUES ($1, $2, $3, '+4915112345678', '{"sms": true}')
        ON CONFLICT (brand_id, external_id) DO UPDATE SET phone = excluded.phone
        RETURNING customer_id
        """,
        brand.brand.brand_id,
        uuid4(),
        external_id,
    )


async def contact(
    conn: asyncpg.Connection,
    brand: BrandFixture,
    at: datetime,
    *,
    trigger: str = "after_visit",
    not_surveyed: str | None = None,
    status: str = "sent",
    status_reason: str | None = None,
    delivered: bool = False,
    answers: dict[str, Any] | None = None,
    first_answer: float | None = None,
    completed: float | None = None,
) -> UUID:
    """A contact on `trigger`'s touchpoint at `at`: decided `not_surveyed` for that reason, or an invitation of the
    trigger's questionnaire (latest version) in `status`; `answers` (question id → value) given `first_answer`
    minutes after the contact (default: at completion), completed `completed` minutes after it. The event's id."""
    brand_id = brand.brand.brand_id
    found = await conn.fetchrow(
        """
        SELECT t.trigger_id, t.touchpoint_key, t.questionnaire_key, q.latest_version
        FROM triggers t JOIN questionnaires q ON q.brand_id = t.brand_id AND q.key = t.questionnaire_key
        WHERE t.brand_id = $1 AND t.key = $2
        """,
        brand_id,
        trigger,
    )
    customer_id = await customer(conn, brand)
    event_id = uuid4()
    invitation_id = None if not_surveyed else uuid4()
    await conn.execute(
        """
        INSERT INTO events (brand_id, event_id, idempotency_key, touchpoint_key, touchpoint_known, customer_id,
                            occurred_at, received_at, outcome, reason, trigger_id, invitation_id, planned_at)
        VALUES ($1, $2, $11, $3, true, $4, $5, $5, $6, $7, $8, $9, $10)
        """,
        brand_id,
        event_id,
        found["touchpoint_key"],
        customer_id,
        at,
        "not_surveyed" if not_surveyed else "scheduled",
        not_surveyed,
        found["trigger_id"],
        invitation_id,
        None if not_surveyed else at,
        str(event_id),
    )
    if invitation_id is None:
        return event_id
    if first_answer is None and answers:
        first_answer = completed or 0.0
    answered = at + timedelta(minutes=first_answer) if first_answer is not None else None
    done = at + timedelta(minutes=completed) if completed is not None else None
    state = "completed" if done else "partial" if answered else None
    await conn.execute(
        """
        INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                                 questionnaire_version, status, status_reason, occurred_at, planned_at, send_by,
                                 expires_at, channels, channel, attempts, response_state, opened_at,
                                 first_answer_at, last_answer_at, completed_at, end_reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, $10, $10 + interval '1 hour', $10 + interval '2 days',
                ARRAY['sms'], 'sms', 1, $11::text, $12::timestamptz, $12, coalesce($13::timestamptz, $12), $13,
                CASE WHEN $11 = 'completed' THEN 'completed' END)
        """,
        brand_id,
        invitation_id,
        event_id,
        customer_id,
        found["trigger_id"],
        found["questionnaire_key"],
        found["latest_version"],
        status,
        status_reason,
        at,
        state,
        answered,
        done,
    )
    if status == "sent":
        await conn.execute(
            """
            INSERT INTO messages (brand_id, invitation_id, attempt, channel, provider, status, body, created_at,
                                  delivery_status, delivered_at)
            VALUES ($1, $2, 1, 'sms', 'sandbox', 'accepted', 'survey', $3, $4, $5)
            """,
            brand_id,
            invitation_id,
            at,
            "delivered" if delivered else None,
            at + timedelta(seconds=30) if delivered else None,
        )
    for question_id, value in (answers or {}).items():
        await conn.execute(
            """
            INSERT INTO answers (brand_id, invitation_id, customer_id, questionnaire_key, questionnaire_version,
                                 question_id, value, raw, channel, answered_at)
            VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, 'null'::jsonb), $8, 'sms', $9)
            """,
            brand_id,
            invitation_id,
            customer_id,
            found["questionnaire_key"],
            found["latest_version"],
            question_id,
            value,
            str(value),
            answered or at,
        )
    return event_id
