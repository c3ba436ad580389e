"""A brand's worth of answers for the export benchmark, written with SQL in a few statements.

The rows are what the API would have left: a touchpoint and its trigger, the every-type questionnaire published
(`tests/responses/every_type.yaml`, nine questions), customers with phones and attributes, one event per
invitation (scheduled), one accepted and delivered SMS per invitation, and nine answers per invitation with values
of each question's type — free texts among them with commas, quotes, line breaks and cells a spreadsheet would
read as formulas. ``generate_series`` writes a million answers in about half a minute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final
from uuid import UUID

import asyncpg

from questionnaires.load import load_definition
from server.questionnaire_versions import publish

QUESTIONNAIRE: Final = Path("tests/responses/every_type.yaml")
QUESTIONS: Final = 9
INVITATIONS_PER_CUSTOMER: Final = 2

_SETUP = """
INSERT INTO touchpoints (brand_id, key, name, category) VALUES ($1, 'delivery', 'Parcel delivery', 'owned');
"""

_TRIGGER = """
INSERT INTO triggers (brand_id, key, touchpoint_key, questionnaire_key, active, priority, definition)
VALUES ($1, 'after_delivery', 'delivery', $2, true, 0, '{}') RETURNING trigger_id
"""

_CUSTOMERS = """
INSERT INTO customers (brand_id, customer_id, external_id, phone, locale, time_zone, consents, attributes)
SELECT $1, lxt_uuid7(), 'customer-' || g, '+49151' || lpad(g::text, 8, '0'),
       (ARRAY['en', 'de'])[1 + g % 2], 'Europe/Berlin', '{"sms": true}',
       jsonb_build_object('tier', (ARRAY['gold', 'silver', 'bronze'])[1 + g % 3], 'orders', g % 40)
FROM generate_series(1, $2) g
"""

# One invitation per event, each a completed survey: sent a minute after the contact, delivered, opened and
# answered within the hour. Customers are taken round-robin.
_EVENTS_AND_INVITATIONS = """
WITH c AS (
    SELECT customer_id, row_number() OVER (ORDER BY customer_id) - 1 AS n FROM customers WHERE brand_id = $1
), planned AS (
    SELECT g, lxt_uuid7() AS event_id, lxt_uuid7() AS invitation_id, c.customer_id,
           timestamptz '2026-01-01 08:00+00' + (g * interval '97 seconds') AS occurred_at
    FROM generate_series(0, $2 - 1) g JOIN c ON c.n = g % $3
), e AS (
    INSERT INTO events (brand_id, event_id, idempotency_key, touchpoint_key, touchpoint_known,
                        customer_id, occurred_at, received_at, attributes, outcome, trigger_id, invitation_id,
                        planned_at)
    SELECT $1, event_id, 'delivery-' || g, 'delivery', true, customer_id, occurred_at,
           occurred_at + interval '2 seconds', jsonb_build_object('store', 'berlin-' || g % 12), 'scheduled', $4,
           invitation_id, occurred_at + interval '1 minute'
    FROM planned
)
INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                         questionnaire_version, status, occurred_at, planned_at, send_by, expires_at, channels,
                         channel, attempts, response_state, opened_at, first_answer_at, last_answer_at, completed_at,
                         end_reason, response_channel, created_at, updated_at)
SELECT $1, invitation_id, event_id, customer_id, $4, $5, $6, 'sent', occurred_at, occurred_at + interval '1 minute',
       occurred_at + interval '1 hour', occurred_at + interval '2 days', ARRAY['sms'], 'sms', 1, 'completed',
       occurred_at + interval '5 minutes', occurred_at + interval '6 minutes',
       occurred_at + interval '6 minutes' + $7 * interval '20 seconds',
       occurred_at + interval '6 minutes' + $7 * interval '20 seconds', 'completed', 'sms',
       occurred_at + interval '2 seconds', occurred_at + interval '10 minutes'
FROM planned
"""

_MESSAGES = """
INSERT INTO messages (brand_id, invitation_id, attempt, channel, provider, style, recipient, sender, status, body,
                      segments, provider_message_id, accepted_at, delivery_status, delivered_at, created_at)
SELECT $1, i.invitation_id, 1, 'sms', 'twilio', 'conversation', c.phone, '+15017122661', 'accepted',
       'How likely are you to recommend us to a friend?', 1, 'SM' || md5(i.invitation_id::text), i.planned_at,
       'delivered', i.planned_at + interval '4 seconds', i.planned_at
FROM invitations i JOIN customers c USING (brand_id, customer_id)
WHERE i.brand_id = $1
"""

COMMENTS: Final = [
    "Quick and friendly, thanks",
    'The "driver" rang twice, great',
    "Box was wet.\nContents fine though",
    '=HYPERLINK("http://evil.example","click")',
    "+1 for the tracking",
    "-",
    "@support please call me",
    "Zu spät, aber freundlich",
    "",
]
"""Free texts: commas, quotes, a line break, cells a spreadsheet would take for formulas, non-ASCII, empty."""

# Nine answers per invitation, one per question in order, 20 s apart; values of each question's type.
_ANSWERS = """
INSERT INTO answers (brand_id, invitation_id, customer_id, questionnaire_key, questionnaire_version, question_id,
                     value, raw, channel, answered_at)
SELECT $1, i.invitation_id, i.customer_id, i.questionnaire_key, i.questionnaire_version, q.id, v.value,
       CASE WHEN jsonb_typeof(v.value) = 'string' THEN v.value #>> '{}' ELSE v.value::text END, 'sms',
       i.first_answer_at + q.n * interval '20 seconds'
FROM (SELECT * FROM invitations WHERE brand_id = $1 ORDER BY occurred_at LIMIT $2) i
CROSS JOIN (VALUES (0, 'nps'), (1, 'stars'), (2, 'mood'), (3, 'effort'), (4, 'channel'), (5, 'extras'),
                   (6, 'again'), (7, 'parcels'), (8, 'comment')) q (n, id)
CROSS JOIN LATERAL (SELECT CASE q.id
    WHEN 'nps' THEN to_jsonb(floor(random() * 11)::int)
    WHEN 'stars' THEN to_jsonb(1 + floor(random() * 5)::int)
    WHEN 'mood' THEN to_jsonb(1 + floor(random() * 5)::int)
    WHEN 'effort' THEN CASE WHEN random() < 0.2 THEN 'null'::jsonb ELSE to_jsonb(1 + floor(random() * 7)::int) END
    WHEN 'channel' THEN to_jsonb((ARRAY['app', 'web', 'app', 'web', 'none'])[1 + floor(random() * 5)::int])
    WHEN 'extras' THEN (ARRAY['["tracking"]', '["locker", "tracking"]', '[]', '["chat"]'])[1 + floor(random() * 4)::int]::jsonb
    WHEN 'again' THEN to_jsonb(random() < 0.8)
    WHEN 'parcels' THEN to_jsonb(1 + floor(random() * 3)::int)
    ELSE to_jsonb(($3::text[])[1 + floor(random() * cardinality($3::text[]))::int])
END AS value) v
LIMIT $4
"""


async def load(conn: asyncpg.Connection, brand_id: UUID, answers: int) -> None:
    """`answers` answers (rounded up to whole invitations of nine) for `brand_id`, analyzed."""
    invitations = -(-answers // QUESTIONS)
    customers = max(1, invitations // INVITATIONS_PER_CUSTOMER)
    definition = load_definition(QUESTIONNAIRE.read_bytes(), "yaml")
    version, _ = await publish(conn, brand_id, definition)
    await conn.execute("SELECT setseed(0.42)")
    async with conn.transaction():
        await conn.execute(_SETUP, brand_id)
        trigger_id = await conn.fetchval(_TRIGGER, brand_id, definition.key)
        await conn.execute(_CUSTOMERS, brand_id, customers)
        await conn.execute(
            _EVENTS_AND_INVITATIONS,
            brand_id,
            invitations,
            customers,
            trigger_id,
            definition.key,
            version.version,
            QUESTIONS,
        )
        await conn.execute(_MESSAGES, brand_id)
        await conn.execute(_ANSWERS, brand_id, invitations, COMMENTS, answers)
    await conn.execute("VACUUM ANALYZE")
