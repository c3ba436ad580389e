"""Erasing a customer leaves no trace: a real history built through the public API (an event with attributes, a
survey sent through the fake Twilio with its delivery receipt, SMS replies, an answer from the app, a study
self-report with a comment, a WhatsApp STOP), erased, and then every column of every table searched for what the
customer was and said. The brand's other customer and another brand with the same customer are untouched."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from research import erasure
from research.erasure import TOMBSTONE_LENGTH
from research.exports.dataset import ExportRequest
from research.exports.datasets import build
from research.pseudonyms import brand_key
from responses.inbound import Inbound, Incoming, receive
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.fakes.twilio import FakeTwilio
from tests.helpers import PHONE, report
from tests.responses.factories import sent_invitation
from tests.responses.studies import enrol, study_setup
from tests.responses.texting import Phone, incoming, invite, text_survey, visit, with_twilio

EXTERNAL_ID = "erase-me-7731"
OTHER_PHONE = "+4915199990042"
NEW_PHONE = "+4915177770013"
STRANGER_PHONE = "+4915166660027"
TOKEN = "fcm-ZX81-token-for-the-erased-phone"
EVENT_NOTE = "Tangerine-Falcon-88"
CUSTOMER_NOTE = "Marzipan-Otter-19"
SMS_TEXT = "the courier Quibble-Horizon waved"
APP_TEXT = "Velvet-Anchor parcel dented"
DIARY_TEXT = "Saffron-Ladder billboard"
TRACES = [
    # The subscriber number is in every form of the phone: +49 151…, 0151…, 49151… (WhatsApp's WaId).
    PHONE.removeprefix("+49"),
    EXTERNAL_ID,
    TOKEN,
    EVENT_NOTE,
    CUSTOMER_NOTE,
    SMS_TEXT,
    APP_TEXT,
    DIARY_TEXT,
]
DIALOGUE = ["9", "4 stars", "5", "skip", "On the website", "1 and 3", "YES", "3", SMS_TEXT]
"""Replies to every_type's questions, in order (tests/responses/every_type.yaml), ending with the comment."""


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return with_twilio(settings, fake_twilio)


async def traces_of(
    conn: asyncpg.Connection, brand_id: uuid.UUID, needles: list[str]
) -> set[tuple[str, str, str]]:
    """(table, column, needle) wherever a needle is in the brand's rows (or in any row of a table without
    brand_id): every column of every table, cast to text (bytea compared as bytes), so a table added later is
    searched too."""
    columns = await conn.fetch(
        """
        SELECT c.table_name, c.column_name, c.data_type,
               EXISTS (SELECT FROM information_schema.columns b
                       WHERE b.table_schema = 'public' AND b.table_name = c.table_name
                         AND b.column_name = 'brand_id') AS by_brand
        FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name, c.ordinal_position
        """
    )
    found = set()
    for table, column, data_type, by_brand in columns:
        value = f'"{column}"' if data_type == "bytea" else f'"{column}"::text'
        needle = "convert_to($1, 'UTF8')" if data_type == "bytea" else "$1"
        where = "brand_id = $2" if by_brand else "$2::uuid IS NOT NULL"
        for text in needles:
            hit = await conn.fetchval(
                f'SELECT EXISTS (SELECT FROM "{table}" WHERE {where} AND position({needle} IN {value}) > 0)',
                text,
                brand_id,
            )
            if hit:
                found.add((table, column, text))
    return found


async def brand_rows(conn: asyncpg.Connection, brand_id: uuid.UUID) -> dict[str, list[str]]:
    """Every row of the brand, table by table, as JSON text in a stable order."""
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_name = 'brand_id' ORDER BY table_name"
    )
    return {
        t["table_name"]: sorted(
            r[0]
            for r in await conn.fetch(
                f'SELECT to_jsonb(x)::text FROM "{t["table_name"]}" x WHERE brand_id = $1', brand_id
            )
        )
        for t in tables
    }


async def rows_naming(conn: asyncpg.Connection, brand_id: uuid.UUID, external_id: str) -> dict[str, list[str]]:
    """The brand's rows that name the customer or one of their ids (their events, invitations, messages)."""
    customer = await conn.fetchval(
        "SELECT customer_id::text FROM customers WHERE brand_id = $1 AND external_id = $2", brand_id, external_id
    )
    ids = [customer] + [
        r[0]
        for r in await conn.fetch(
            "SELECT event_id::text FROM events WHERE brand_id = $1 AND customer_id = $2::uuid "
            "UNION SELECT invitation_id::text FROM invitations WHERE brand_id = $1 AND customer_id = $2::uuid "
            "UNION SELECT m.message_id::text FROM messages m JOIN invitations i USING (brand_id, invitation_id) "
            "WHERE i.brand_id = $1 AND i.customer_id = $2::uuid",
            brand_id,
            customer,
        )
    ]
    return {
        table: [row for row in rows if any(i in row for i in ids)]
        for table, rows in (await brand_rows(conn, brand_id)).items()
    }


NUMBERED = {
    "consent": ("consent_changes", "change_id"),
    "invitation_status": ("invitation_transitions", "seq"),
    "diary_comment": ("self_report_comments", "seq"),
}
"""The timeline kinds whose item ids end in a row number, and the number's table and column."""


async def ids_handed_out(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, external_id: str
) -> tuple[set[str], dict[str, set[int]]]:
    """Every id the brand could have been given for the customer: from their whole timeline (items' ids, their
    invitations' and events' ids, the ids in their details) and from a responses-long export with personal data
    (every ``*_id`` column but the question's); and the row numbers of timeline items, per kind (`NUMBERED`)."""
    ids: set[str] = set()
    numbers: dict[str, set[int]] = {kind: set() for kind in NUMBERED}
    cursor = None
    while True:
        query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = await client.get(f"/v1/customers/{external_id}/timeline{query}", headers=brand.headers("manage"))
        assert page.status_code == 200, page.text
        for item in page.json()["items"]:
            # A row id, then a row number or a receipt's status (not an id) after a slash.
            row, _, number = item["item_id"].partition("/")
            if item["kind"] in NUMBERED:
                numbers[item["kind"]].add(int(number or row))
            if not row.isdigit():
                ids.add(row)
            named = [item.get("invitation_id"), item.get("event_id")]
            named += [v for name, v in item["detail"].items() if name.endswith("_id") and name != "question_id"]
            ids.update(str(value) for value in named if value is not None)
        if (cursor := page.json()["next_cursor"]) is None:
            break
    request = ExportRequest(brand_id=brand.brand.brand_id, pii=True)
    dataset = await build(conn, "responses-long", request)
    for row in await conn.fetch(dataset.sql, *dataset.args):
        if row["external_id"] == external_id:
            ids.update(
                str(value)
                for name, value in row.items()
                if name.endswith("_id")
                and name != "question_id"
                and value is not None  # a question's is the brand's
            )
    return ids, numbers


async def a_customer_history(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx: dict[str, Any],
    fake_twilio: FakeTwilio,
) -> dict[str, Any]:
    """Everything a customer can leave with a brand, through the routes they and the brand use."""
    phone = Phone(client, fake_twilio)
    await text_survey(client, brand)
    stored = await client.put(
        f"/v1/customers/{EXTERNAL_ID}",
        json={
            "phone": PHONE,
            "push_tokens": [TOKEN],
            "attributes": {"nickname": CUSTOMER_NOTE},
            "consents": {"sms": True, "whatsapp": True},
        },
        headers=brand.headers("manage"),
    )
    assert stored.status_code == 200, stored.text
    # The event (its idempotency key holds the brand's own id of the customer), sent by SMS, delivered, answered.
    body = visit(f"pos-{EXTERNAL_ID}-1", EXTERNAL_ID) | {"attributes": {"note": EVENT_NOTE}}
    invitation_id, said = await invite(ctx, client, brand, body)
    assert said == "sent via sms (twilio)"
    receipt = fake_twilio.status_callback(fake_twilio.messages[-1]["sid"], "delivered")
    assert await receipt.post_async(client) == 204
    for reply in DIALOGUE:
        await phone.text(reply)
    # An answer from the brand's app, by the link token of a second invitation.
    linked = await sent_invitation(conn, brand, external_id=EXTERNAL_ID, phone=PHONE)
    given = {"nps": 7, "stars": 3, "mood": 4, "effort": None, "channel": "app", "extras": None, "again": False}
    given |= {"parcels": None, "comment": APP_TEXT}
    answered = await client.post(f"/v1/responses/{linked.token}/answers", json={"answers": given})
    assert answered.status_code == 200, answered.text
    # A tracking study: enrolled (the pre-survey is scheduled and queued), a texted code, a comment on the diary.
    await study_setup(client, brand)
    assert (await enrol(client, brand, external_id=EXTERNAL_ID)).status_code == 201
    confirmation = await phone.text("BS24")
    assert confirmation is not None and "/d/" in confirmation, confirmation
    diary = confirmation.split("/d/", 1)[1].split()[0]
    report_id = await conn.fetchval("SELECT report_id::text FROM self_reports")
    commented = await client.post(f"/d/{diary}", data={"report_id": report_id, "comment": DIARY_TEXT})
    assert commented.status_code == 200 and DIARY_TEXT in commented.text  # the page again, after its redirect
    # STOP by WhatsApp: the phone's opt-out of that channel (the SMS pre-survey, and the survey of the reported
    # store visit, stay scheduled).
    await phone.text("STOP", channel="whatsapp")
    scheduled = await conn.fetchval(
        "SELECT count(*) FROM invitations i JOIN customers c USING (brand_id, customer_id) "
        "WHERE i.brand_id = $1 AND c.external_id = $2 AND i.status = 'scheduled'",
        brand.brand.brand_id,
        EXTERNAL_ID,
    )
    assert scheduled == 2
    return {"invitation_id": invitation_id, "event": body["idempotency_key"]}


async def bystanders(client: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, run_worker) -> None:
    """The brand's other customer, and the same person (external id and phone) at another brand, each surveyed."""
    await text_survey(client, brand)
    await report(
        client, brand, visit("bystander-1", "bystander", phone=OTHER_PHONE) | {"attributes": {"note": "Plum-42"}}
    )
    await text_survey(client, other_brand)
    await report(
        # Not surveyed there (no channel it may use), so that the phone's one conversation with the shared sender is
        # this brand's.
        client,
        other_brand,
        visit("elsewhere-1", EXTERNAL_ID, push=True) | {"attributes": {"note": EVENT_NOTE}},
    )
    await run_worker()


async def set_policy(client: AsyncTestClient, brand: BrandFixture, policy: str) -> None:
    response = await client.patch("/v1/brand", json={"erasure": policy}, headers=brand.headers("manage"))
    assert response.status_code == 200 and response.json()["erasure"] == policy, response.text


@pytest.mark.parametrize("policy", ["anonymise", "delete"])
async def test_an_erased_customer_leaves_no_trace(
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx: dict[str, Any],
    fake_twilio: FakeTwilio,
    run_worker,
    policy: str,
) -> None:
    await bystanders(client, brand, other_brand, run_worker)
    history = await a_customer_history(client, brand, conn, ctx, fake_twilio)
    await set_policy(client, brand, policy)
    acme = brand.brand.brand_id
    # The history holds every trace looked for (so that their absence afterwards means something).
    assert {needle for _, _, needle in await traces_of(conn, acme, TRACES)} == set(TRACES)
    customer_id = await conn.fetchval(
        "SELECT customer_id FROM customers WHERE brand_id = $1 AND external_id = $2", acme, EXTERNAL_ID
    )
    pseudonym = (await brand_key(conn, acme)).pseudonym(customer_id)
    coded = await conn.fetch(
        "SELECT question_id, value FROM answers WHERE jsonb_typeof(value) IN ('number', 'boolean') ORDER BY 1, 2"
    )
    bystander = await rows_naming(conn, acme, "bystander")
    handed_out, numbered = await ids_handed_out(client, brand, conn, EXTERNAL_ID)
    # Ids of every kind the customer's rows have: the search below means something.
    for table, column in (
        ("answers", "answer_id"),
        ("inbound_messages", "inbound_id"),
        ("self_reports", "report_id"),
        ("conversations", "conversation_id"),
        ("messages", "provider_message_id"),
    ):
        held = {r[0] for r in await conn.fetch(f"SELECT {column}::text FROM {table} WHERE brand_id = $1", acme)}
        assert held & handed_out, (table, column)
    assert all(numbered.values()), numbered
    elsewhere = await brand_rows(conn, other_brand.brand.brand_id)
    sent = len(fake_twilio.messages)

    response = await client.delete(f"/v1/customers/{EXTERNAL_ID}", headers=brand.headers("manage"))
    assert response.status_code == 200, response.text
    erased = response.json()
    assert (erased["subject"], erased["policy"], erased["cancelled"]) == (pseudonym, policy, 2)
    rows = erased["rows"]
    assert rows["customers"] == 1 and rows["phone_opt_outs"] == 1
    assert rows["events"] == 3  # the visit, the study enrolment, the self-report
    assert rows["answers"] == 2 * 9 and rows["inbound_messages"] == len(DIALOGUE) + 2

    # Nothing is sent after the erasure: the queued pre-survey and the earlier jobs find nothing to send.
    await run_worker()
    assert len(fake_twilio.messages) == sent
    assert await traces_of(conn, acme, TRACES) == set()
    # No id the brand was given is anywhere in the brand's rows, nor is any row number of the customer's timeline.
    after = await brand_rows(conn, acme)
    left_over = {(table, i) for table, rows in after.items() for row in rows for i in handed_out if i in row}
    assert left_over == set()
    for kind, (table, column) in NUMBERED.items():
        left = await conn.fetch(f"SELECT {column} FROM {table} WHERE {column} = any($1::bigint[])", numbered[kind])
        assert left == [], kind
    # The other customer and the other brand (the same person there) are as they were.
    assert await rows_naming(conn, acme, "bystander") == bystander
    assert await brand_rows(conn, other_brand.brand.brand_id) == elsewhere

    # The external id names nobody; the ids the brand was given lead nowhere.
    headers = brand.headers("manage")
    assert (await client.get(f"/v1/customers/{EXTERNAL_ID}", headers=headers)).status_code == 404
    assert (await client.get(f"/v1/invitations/{history['invitation_id']}", headers=headers)).status_code == 404
    assert (await client.get(f"/v1/events/{history['event']}", headers=headers)).status_code == 404
    again = await client.delete(f"/v1/customers/{EXTERNAL_ID}", headers=headers)
    assert again.status_code == 404 and again.headers["content-type"] == "application/problem+json"

    [entry] = (await client.get("/v1/audit?action=customer_erased", headers=headers)).json()["items"]
    prefix = await conn.fetchval(
        "SELECT prefix FROM api_keys WHERE brand_id = $1 AND scopes = '{manage}'", brand.brand.brand_id
    )
    assert (entry["actor"], entry["subject"]) == (f"key:{prefix}", pseudonym)
    assert entry["details"] == {"policy": policy, "cancelled": 2, "rows": rows}

    left = await conn.fetchval(
        "SELECT count(*) FROM customers WHERE brand_id = $1 AND external_id <> 'bystander'", acme
    )
    if policy == "delete":
        assert left == 0
        assert await conn.fetchval("SELECT count(*) FROM answers") == 0
        return
    # anonymise: a tombstone, and the statistics as they were, under ids nothing the brand holds leads to.
    tombstone = await conn.fetchrow(
        "SELECT * FROM customers WHERE brand_id = $1 AND external_id LIKE 'erased:%'", acme
    )
    named = tombstone["external_id"]
    assert left == 1 and named == f"erased:{tombstone['customer_id']}".ljust(TOMBSTONE_LENGTH, ".")
    # No request can name the tombstone, so none attaches new data to it.
    put = await client.put(f"/v1/customers/{named}", json={"phone": PHONE}, headers=headers)
    event = await client.post("/v1/events", json=visit("v-after", named), headers=brand.headers("ingest"))
    timeline = await client.get(f"/v1/customers/{named}/timeline", headers=headers)
    assert (put.status_code, event.status_code, timeline.status_code) == (422, 422, 422), (put.text, event.text)
    assert (tombstone["phone"], tombstone["push_tokens"], tombstone["attributes"]) == (None, [], {})
    assert tombstone["customer_id"] != customer_id and uuid.UUID(str(tombstone["customer_id"])).version == 7
    assert (await brand_key(conn, acme)).pseudonym(tombstone["customer_id"]) != pseudonym
    kept = await conn.fetch(
        "SELECT question_id, value FROM answers WHERE jsonb_typeof(value) IN ('number', 'boolean') ORDER BY 1, 2"
    )
    assert kept == coded
    assert (
        await conn.fetchval("SELECT count(*) FROM answers WHERE question_id = 'comment' AND value = '\"\"'") == 2
    )
    unlinked = await conn.fetchval(
        "SELECT count(*) FROM invitations WHERE brand_id = $1 AND customer_id = $2", acme, tombstone["customer_id"]
    )
    assert (
        unlinked == 4
        and await conn.fetchval("SELECT count(*) FROM invitations WHERE customer_id = $1", customer_id) == 0
    )
    assert await conn.fetchval("SELECT count(*) FROM diary_links") == 0
    # Nor can a second erasure of the tombstone.
    assert (await client.delete(f"/v1/customers/{named}", headers=headers)).status_code == 422


async def test_a_stop_outlives_the_erasure_of_its_phone(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx: dict[str, Any],
    fake_twilio: FakeTwilio,
    run_worker,
) -> None:
    await text_survey(client, brand)
    await invite(ctx, client, brand, visit("v1", EXTERNAL_ID))
    await Phone(client, fake_twilio).text("STOP")
    assert (await client.delete(f"/v1/customers/{EXTERNAL_ID}", headers=brand.headers())).status_code == 200
    assert await conn.fetchval("SELECT count(*) FROM phone_opt_outs") == 0
    assert await conn.fetchval("SELECT count(*) FROM erased_phone_opt_outs") == 1
    sent = len(fake_twilio.messages)

    # The same phone, given to a customer the brand creates later: opted out of SMS, whatever the event says.
    decided = await report(client, brand, visit("v2", "newcomer"))
    await run_worker()
    assert len(fake_twilio.messages) == sent
    newcomer = (await client.get("/v1/customers/newcomer", headers=brand.headers("manage"))).json()
    assert newcomer["unsubscribed"] == ["sms"] and newcomer["consents"]["sms"] is False
    status = await conn.fetchval(
        "SELECT status FROM invitations WHERE invitation_id = $1", decided["invitation_id"]
    )
    assert status == "suppressed"
    # The opt-out is the phone's own again (START and the brand's grant lift it as before); the hash is gone.
    assert await conn.fetchval("SELECT phone FROM phone_opt_outs") == PHONE
    assert await conn.fetchval("SELECT count(*) FROM erased_phone_opt_outs") == 0


async def test_an_open_conversation_ends_with_the_erasure(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx: dict[str, Any],
    fake_twilio: FakeTwilio,
) -> None:
    await text_survey(client, brand)
    await invite(ctx, client, brand, visit("v1", EXTERNAL_ID))
    phone = Phone(client, fake_twilio)
    await phone.text("9")
    assert (await client.delete(f"/v1/customers/{EXTERNAL_ID}", headers=brand.headers())).status_code == 200
    closed = await conn.fetchrow("SELECT recipient, close_reason, closed_at FROM conversations")
    assert (closed["recipient"], closed["close_reason"]) == ("", "erased") and closed["closed_at"] is not None
    # The phone's next text belongs to no conversation and no customer: stored, and not taken as an answer.
    assert await phone.text("4") is None
    assert await conn.fetchval("SELECT count(*) FROM answers WHERE raw = '4'") == 0
    assert await conn.fetchval("SELECT customer_id FROM inbound_messages WHERE body = '4'") is None


async def test_a_phone_another_customer_has_keeps_its_opt_out_as_it_is(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, fake_twilio: FakeTwilio
) -> None:
    await text_survey(client, brand)
    for external_id in (EXTERNAL_ID, "household"):
        await report(client, brand, visit(f"v-{external_id}", external_id))
    await Phone(client, fake_twilio).text("STOP")
    erased = await client.delete(f"/v1/customers/{EXTERNAL_ID}", headers=brand.headers())
    assert erased.json()["rows"]["phone_opt_outs"] == 0
    assert await conn.fetchval("SELECT phone FROM phone_opt_outs") == PHONE
    assert await conn.fetchval("SELECT phone FROM customers WHERE external_id = 'household'") == PHONE


async def test_the_phones_a_customer_had_before_are_erased_too(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx: dict[str, Any],
    fake_twilio: FakeTwilio,
) -> None:
    """Texted at one number, then given another: what came from the first after it was theirs is theirs too."""
    await text_survey(client, brand)
    await invite(ctx, client, brand, visit("v1", EXTERNAL_ID))
    old, new, stranger = (
        Phone(client, fake_twilio),
        Phone(client, fake_twilio, NEW_PHONE),
        Phone(client, fake_twilio, STRANGER_PHONE),
    )
    await old.text("9")
    moved = await client.put(f"/v1/customers/{EXTERNAL_ID}", json={"phone": NEW_PHONE}, headers=brand.headers())
    assert moved.status_code == 200, moved.text
    # From the old number, now nobody's: a STOP, which ends the survey's conversation with it and is kept for the
    # number, then a text stored for no customer, as a stranger's is.
    await old.text("STOP")
    await old.text("Sorry, wrong survey: Juniper-Kettle")
    await stranger.text("Hello? Ochre-Pigeon")
    unattributed = await conn.fetch("SELECT from_phone FROM inbound_messages WHERE customer_id IS NULL")
    assert sorted(r[0] for r in unattributed) == sorted([PHONE, PHONE, STRANGER_PHONE])
    assert await conn.fetchval("SELECT phone FROM phone_opt_outs") == PHONE
    await invite(ctx, client, brand, visit("v2", EXTERNAL_ID, phone=NEW_PHONE))
    await new.text("8")
    acme = brand.brand.brand_id
    assert {n for _, _, n in await traces_of(conn, acme, [PHONE, NEW_PHONE, "Juniper-Kettle"])} == {
        PHONE,
        NEW_PHONE,
        "Juniper-Kettle",
    }

    erased = await client.delete(f"/v1/customers/{EXTERNAL_ID}", headers=brand.headers())
    assert erased.status_code == 200, erased.text
    assert erased.json()["rows"]["phone_opt_outs"] == 1
    assert await traces_of(conn, acme, [PHONE, NEW_PHONE, "Juniper-Kettle"]) == set()
    assert await conn.fetchval("SELECT count(*) FROM erased_phone_opt_outs") == 1
    # A stranger's text is nobody's to erase.
    assert await conn.fetchval("SELECT body FROM inbound_messages WHERE from_phone = $1", STRANGER_PHONE) == (
        "Hello? Ochre-Pigeon"
    )


async def test_a_customer_being_sent_to_is_erased_once_the_send_is_over(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await text_survey(client, brand)
    decided = await report(client, brand, visit("v1", EXTERNAL_ID))
    await conn.execute(
        "UPDATE invitations SET status = 'sending' WHERE invitation_id = $1", decided["invitation_id"]
    )
    busy = await client.delete(f"/v1/customers/{EXTERNAL_ID}", headers=brand.headers())
    assert busy.status_code == 409 and busy.headers["retry-after"] == "5", busy.text
    assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0
    assert await conn.fetchval("SELECT phone FROM customers WHERE external_id = $1", EXTERNAL_ID) == PHONE
    await conn.execute("UPDATE invitations SET status = 'sent' WHERE invitation_id = $1", decided["invitation_id"])
    assert (await client.delete(f"/v1/customers/{EXTERNAL_ID}", headers=brand.headers())).status_code == 200


async def test_erasing_needs_the_manage_scope_and_a_known_customer(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await text_survey(client, brand)
    await report(client, brand, visit("v1", EXTERNAL_ID))
    for scope in ("ingest", "export", "export_pii"):
        refused = await client.delete(f"/v1/customers/{EXTERNAL_ID}", headers=brand.headers(scope))
        assert refused.status_code == 403, scope
    unknown = await client.delete("/v1/customers/nobody", headers=brand.headers("manage"))
    assert unknown.status_code == 404 and unknown.json()["status"] == 404
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE external_id = $1", EXTERNAL_ID) == 1
    assert (await client.get("/v1/audit", headers=brand.headers("export"))).status_code == 403


async def test_the_audit_log_pages_newest_first(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    for n in range(5):
        await client.put(f"/v1/customers/c-{n}", json={}, headers=brand.headers("manage"))
        assert (await client.delete(f"/v1/customers/c-{n}", headers=brand.headers("manage"))).status_code == 200
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/v1/audit{query}", headers=brand.headers("manage"))).json()
        seen += [entry["audit_id"] for entry in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == 5
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    later = await client.get(f"/v1/audit?from={now}", headers=brand.headers("manage"))
    assert later.json() == {"items": [], "next_cursor": None}
    bad = await client.get("/v1/audit?cursor=abc", headers=brand.headers("manage"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "query:cursor"


async def _waiting_on_a_lock(conn: asyncpg.Connection, other: asyncpg.Connection) -> None:
    """Until `other`'s statement waits for a row lock (as seen from `conn`)."""
    pid = other.get_server_pid()
    for _ in range(500):
        if await conn.fetchval("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid) == "Lock":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second transaction never waited for the first")


async def test_a_text_stored_while_an_erasure_runs_is_erased_too_or_is_a_strangers(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx: dict[str, Any]
) -> None:
    """The inbound insert locks the customer it attributes a text to, as the erasure does: whichever comes first,
    the text does not keep the erased customer's id and words."""
    brand_id = brand.brand.brand_id
    await text_survey(client, brand)
    await invite(ctx, client, brand, visit("v1", EXTERNAL_ID))
    old_id = await conn.fetchval("SELECT customer_id FROM customers WHERE external_id = $1", EXTERNAL_ID)
    pool: asyncpg.Pool = ctx["pool"]
    async with pool.acquire() as first, pool.acquire() as second:
        # The text first: the erasure waits for it, then blanks it.
        async with first.transaction():
            stored = await receive(first, incoming(brand, SMS_TEXT), datetime.now(UTC))
            assert stored is not None and stored.customer_id == old_id
            erasing = asyncio.create_task(_erase(second, brand_id))
            await _waiting_on_a_lock(conn, second)
        assert (await erasing).policy == "anonymise"
        row = await conn.fetchrow("SELECT body, customer_id FROM inbound_messages")
        assert row["body"] != SMS_TEXT and row["customer_id"] not in (old_id, None)

    await report(client, brand, visit("v2", "second-customer"))
    second_id = await conn.fetchval("SELECT customer_id FROM customers WHERE external_id = 'second-customer'")
    async with pool.acquire() as first, pool.acquire() as second:
        # The erasure first: the text waits for it, then finds no customer with the phone.
        async with first.transaction():
            await erasure.erase_customer(first, brand_id, "second-customer", actor="test", now=datetime.now(UTC))
            receiving = asyncio.create_task(_receive(second, incoming(brand, APP_TEXT)))
            await _waiting_on_a_lock(conn, second)
        late = await receiving
        assert late is not None and late.customer_id is None
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages WHERE customer_id = $1", second_id) == 0


async def _erase(conn: asyncpg.Connection, brand_id: uuid.UUID) -> erasure.Erasure:
    async with conn.transaction():
        erased = await erasure.erase_customer(conn, brand_id, EXTERNAL_ID, actor="test", now=datetime.now(UTC))
    assert erased is not None
    return erased


async def _receive(conn: asyncpg.Connection, incoming: Incoming) -> Inbound | None:
    async with conn.transaction():
        return await receive(conn, incoming, datetime.now(UTC))
