"""All SQL of customers: reading, locking and writing them with their consent changes. Every query filters by
brand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec

from customers.model import ConsentChange, Customer, CustomerIn, merge
from customers.rows import CUSTOMER_PARTS, CustomerWrites
from plumbing import rows
from plumbing.ids import new_id

CUSTOMER_COLUMNS = (
    "customer_id::text, external_id, phone, locale, time_zone, push_tokens, consents, opted_out_at, attributes, "
    "phone_unreachable, unsubscribed"
)


def customer_from_row(row: asyncpg.Record) -> Customer:
    return Customer(
        customer_id=row["customer_id"],
        external_id=row["external_id"],
        phone=row["phone"],
        locale=row["locale"],
        time_zone=row["time_zone"],
        push_tokens=list(row["push_tokens"]),
        consents=row["consents"],
        opted_out_at=row["opted_out_at"],
        attributes=row["attributes"],
        phone_unreachable=row["phone_unreachable"],
        unsubscribed=list(row["unsubscribed"]),
    )


async def get_customer(conn: asyncpg.Connection, brand_id: UUID, external_id: str) -> Customer | None:
    row = await conn.fetchrow(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE brand_id = $1 AND external_id = $2", brand_id, external_id
    )
    return customer_from_row(row) if row else None


async def customer_by_id(conn: asyncpg.Connection, brand_id: UUID, customer_id: str) -> Customer | None:
    row = await conn.fetchrow(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE brand_id = $1 AND customer_id = $2", brand_id, customer_id
    )
    return customer_from_row(row) if row else None


class Guard(msgspec.Struct, frozen=True):
    """A condition `lock_customers` evaluates once before it locks anything (e.g. taking an advisory lock), with
    its one parameter (``$3``)."""

    condition: str
    argument: Any


async def lock_customers(
    conn: asyncpg.Connection, refs: Sequence[tuple[UUID, str]], *, guard: Guard | None = None
) -> dict[tuple[UUID, str], Customer]:
    """The existing customers among `refs` by (brand, external id), locked until commit, in a fixed order (no
    deadlocks).

    The lock serialises every decision about one customer, so two concurrent events cannot both take the last
    frequency slot. Customers that do not exist yet are created by the caller's write; if a concurrent
    transaction creates one first, that insert fails and the whole transaction is retried (and then finds it).
    """
    refs = sorted(set(refs))
    found = await conn.fetch(
        f"""
        SELECT c.brand_id, {CUSTOMER_COLUMNS}
        FROM unnest($1::uuid[], $2::text[]) AS r (wanted_brand, wanted_external_id)
        JOIN customers c ON c.brand_id = r.wanted_brand AND c.external_id = r.wanted_external_id
        -- A condition without columns: evaluated once, before any row is read or locked.
        WHERE {guard.condition if guard else "$3::int IS NULL"}
        ORDER BY c.brand_id, c.external_id
        FOR UPDATE OF c
        """,
        [r[0] for r in refs],
        [r[1] for r in refs],
        guard.argument if guard else None,
    )
    return {(r["brand_id"], r["external_id"]): customer_from_row(r) for r in found}


_WRITE = rows.write_statement(CUSTOMER_PARTS)


async def put_customer(
    conn: asyncpg.Connection,
    brand_id: UUID,
    external_id: str,
    update: CustomerIn,
    now: datetime,
    *,
    opt_in: bool = True,
    source: str = "api",
) -> tuple[Customer, list[ConsentChange]]:
    """Create or update a customer inside the caller's transaction (the row stays locked until commit); consent
    changes are recorded as coming from `source` (``api``, or ``study`` for a tracking study's enrolment). Without
    `opt_in` (a key without the ``manage`` scope) a customer's opt-outs stand (see `merge`); with it, taking one
    back lifts the phone's opt-out of that channel too (``phone_opt_outs``). A phone that opted out of a channel
    withdraws it from the customer whatever `update` says (migrations/0011): the customer returned is as stored.

    A concurrent request creating the same customer first makes this fail with a unique violation: retry the
    transaction, and it finds and updates that customer.
    """
    locked = await lock_customers(conn, [(brand_id, external_id)])
    stored = locked.get((brand_id, external_id))
    customer, changes = merge(
        stored or Customer(customer_id=new_id(), external_id=external_id), update, now, opt_in=opt_in
    )
    lifted = sorted(set(stored.unsubscribed) - set(customer.unsubscribed)) if stored else []
    if lifted and customer.phone is not None:
        await conn.execute(_LIFT_PHONE_OPT_OUTS, brand_id, customer.phone, lifted)
    writes = CustomerWrites()
    writes.add_consent_changes(brand_id, customer.customer_id, changes)
    writes.add_customer(brand_id, stored, customer)
    await conn.execute(_WRITE, now, source, *rows.arguments(CUSTOMER_PARTS, writes))
    if customer.phone is not None:
        customer = await customer_by_id(conn, brand_id, customer.customer_id) or customer
    return customer, changes


# -- what providers report about a customer's contact data -------------------------------------------------------
# Each of these only changes what the report is about, and only while the data is still the one reported on (a
# brand that gave a new phone meanwhile keeps it usable).


async def mark_phone_unreachable(
    conn: asyncpg.Connection, brand_id: UUID, customer_id: str, phone: str, reason: str, now: datetime
) -> bool:
    """Record that `phone` cannot take messages (`reason` as the provider gave it), if it is still the
    customer's phone; later decisions skip the phone's channels. True if recorded."""
    return (
        await conn.execute(
            """
            UPDATE customers SET phone_unreachable = $4, updated_at = $5
            WHERE brand_id = $1 AND customer_id = $2 AND phone = $3
            """,
            brand_id,
            customer_id,
            phone,
            reason,
            now,
        )
        != "UPDATE 0"
    )


async def withdraw_consent(
    conn: asyncpg.Connection, brand_id: UUID, customer_id: str, channel: str, source: str, now: datetime
) -> bool:
    """Record that the customer unsubscribed from `channel`, as the carrier reported it (Twilio 21610): the
    consent is withdrawn and stays so (`Customer.unsubscribed`), the change recorded with its `source`, and their
    phone is opted out of the channel (the brand's other records with it follow when next written); True if the
    customer was not unsubscribed already."""
    await conn.execute(_OPT_OUT_PHONE_OF, brand_id, customer_id, channel, source, now)
    changed = await conn.fetchval(
        _UNSUBSCRIBE + "SELECT count(*) FROM recorded",
        brand_id,
        [customer_id],
        channel,
        source,
        now,
    )
    return bool(changed)


# Customers whose consent to a channel is withdrawn by their own opt-out, and one consent change row each.
_UNSUBSCRIBE = """
WITH changed AS (
    UPDATE customers
    SET consents = consents || jsonb_build_object($3::text, false),
        unsubscribed = CASE WHEN $3 = ANY(unsubscribed) THEN unsubscribed ELSE unsubscribed || $3::text END,
        updated_at = $5
    WHERE brand_id = $1 AND customer_id = ANY($2::uuid[])
      AND (consents -> $3::text IS DISTINCT FROM 'false'::jsonb OR NOT $3 = ANY(unsubscribed))
    RETURNING brand_id, customer_id
), recorded AS (
    INSERT INTO consent_changes (brand_id, customer_id, channel, granted, source, changed_at)
    SELECT brand_id, customer_id, $3, false, $4, $5 FROM changed
    RETURNING customer_id
)
"""

OWN_OPT_OUT_SOURCES: Final = ("sms_keyword", "whatsapp_keyword", "twilio_opt_out", "provider", "phone_opt_out")
"""Sources of the consent changes by which customers opt out themselves (`Customer.unsubscribed`): a STOP keyword
by SMS or WhatsApp, Twilio's Advanced Opt-Out, the carrier's refusal to deliver (Twilio 21610), and the opt-out
of their phone, made before they had it (migrations/0011)."""

# The phone's own opt-out of a channel (migrations/0011): a customer written with the phone gets it. The first one
# stands (its time and source); a phone's START removes it.
_OPT_OUT_PHONE = """
INSERT INTO phone_opt_outs (brand_id, phone, channel, source, opted_out_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (brand_id, phone, channel) DO NOTHING
"""
_OPT_OUT_PHONE_OF = """
INSERT INTO phone_opt_outs (brand_id, phone, channel, source, opted_out_at)
SELECT brand_id, phone, $3, $4, $5 FROM customers WHERE brand_id = $1 AND customer_id = $2 AND phone IS NOT NULL
ON CONFLICT (brand_id, phone, channel) DO NOTHING
"""
_LIFT_PHONE_OPT_OUTS = (
    "DELETE FROM phone_opt_outs WHERE brand_id = $1 AND phone = $2 AND channel = ANY($3::text[])"
)

# Customers who opted out of a channel themselves opt back in: the opt-out is undone, and the consent is again what
# it was just before their latest opt-out (the consent change before it) — granted if the brand had granted it,
# still withdrawn if the brand had withdrawn it (or never granted it). A withdrawn consent without an own opt-out
# is the brand's, and START is not the customer's to take it back with.
_RESUBSCRIBE = f"""
WITH changed AS (
    UPDATE customers c
    SET consents = c.consents || jsonb_build_object($3::text, coalesce(before.granted, false)),
        unsubscribed = array_remove(c.unsubscribed, $3), updated_at = $5
    FROM unnest($2::uuid[]) AS r (customer_id)
    LEFT JOIN LATERAL (
        SELECT b.granted FROM consent_changes b
        WHERE b.brand_id = $1 AND b.customer_id = r.customer_id AND b.channel = $3
          AND b.change_id < (
              SELECT max(o.change_id) FROM consent_changes o
              WHERE o.brand_id = $1 AND o.customer_id = r.customer_id AND o.channel = $3 AND NOT o.granted
                AND o.source IN ({", ".join(f"'{source}'" for source in OWN_OPT_OUT_SOURCES)})
          )
        ORDER BY b.change_id DESC
        LIMIT 1
    ) before ON true
    WHERE c.brand_id = $1 AND c.customer_id = r.customer_id AND $3 = ANY(c.unsubscribed)
    RETURNING c.brand_id, c.customer_id, coalesce(before.granted, false) AS granted
), recorded AS (
    INSERT INTO consent_changes (brand_id, customer_id, channel, granted, source, changed_at)
    SELECT brand_id, customer_id, $3, true, $4, $5 FROM changed WHERE granted
    RETURNING customer_id
)
"""

_WITH_PHONE = (
    "SELECT customer_id FROM customers WHERE brand_id = $1 AND phone = $2 ORDER BY customer_id FOR UPDATE"
)


async def unsubscribe_phone(
    conn: asyncpg.Connection, brand_id: UUID, phone: str, channel: str, source: str, now: datetime
) -> list[UUID]:
    """The customer behind `phone` opted out of `channel` (STOP): every customer of the brand with that phone
    (a household may share one) is unsubscribed from it, each change recorded with its `source`, and so is every
    customer who gets the phone later (``phone_opt_outs``), until the phone's START. Returns the customers with
    that phone, changed or not."""
    await conn.execute(_OPT_OUT_PHONE, brand_id, phone, channel, source, now)
    owners = [r["customer_id"] for r in await conn.fetch(_WITH_PHONE, brand_id, phone)]
    if owners:
        await conn.execute(_UNSUBSCRIBE + "SELECT 1", brand_id, owners, channel, source, now)
    return owners


async def resubscribe_phone(
    conn: asyncpg.Connection, brand_id: UUID, phone: str, channel: str, source: str, now: datetime
) -> list[UUID]:
    """The customer behind `phone` opted back in to `channel` (START): every customer of the brand with that
    phone who opted out of it themselves (`Customer.unsubscribed`) is no longer, and has the consent they had
    before (see `_RESUBSCRIBE`), each grant recorded with its `source`. A consent the brand withdrew stays
    withdrawn. The phone's own opt-out is lifted. Returns the customers granted the consent again."""
    await conn.execute(_LIFT_PHONE_OPT_OUTS, brand_id, phone, [channel])
    owners = [r["customer_id"] for r in await conn.fetch(_WITH_PHONE, brand_id, phone)]
    if not owners:
        return []
    rows = await conn.fetch(
        _RESUBSCRIBE + "SELECT customer_id FROM recorded", brand_id, owners, channel, source, now
    )
    return [r["customer_id"] for r in rows]


async def remove_push_token(
    conn: asyncpg.Connection, brand_id: UUID, customer_id: str, token: str, now: datetime
) -> bool:
    """Forget a push token the push service no longer knows (the app was uninstalled); True if it was there."""
    return (
        await conn.execute(
            """
            UPDATE customers SET push_tokens = array_remove(push_tokens, $3), updated_at = $4
            WHERE brand_id = $1 AND customer_id = $2 AND $3 = ANY(push_tokens)
            """,
            brand_id,
            customer_id,
            token,
            now,
        )
        != "UPDATE 0"
    )
