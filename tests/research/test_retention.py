"""Retention: a brand's raw events, messages and answers older than its period are anonymised by the hourly job,
newer ones and the coded answers stay; each run is audited; runs at once share the work; the period is set with
PATCH /v1/brand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from research import jobs, retention
from server.settings import Settings
from server.worker import schedule
from tests.conftest import BrandFixture
from tests.fakes.twilio import FakeTwilio
from tests.helpers import PHONE, report
from tests.research.test_erasure import DIALOGUE, OTHER_PHONE, traces_of
from tests.responses.factories import sent_invitation
from tests.responses.texting import Phone, invite, text_survey, visit, with_twilio

PERIOD = timedelta(days=30)
OLD_NOTE, OLD_TEXT, OLD_REFUSED = "Old-Heron-31", "the old courier Brisk-Mango sang", "Refused-Kiwi-5"
NEW_NOTE, NEW_TEXT = "New-Lark-77", "the new courier Calm-Pepper hummed"


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return with_twilio(settings, fake_twilio)


async def keep_for(client: AsyncTestClient, brand: BrandFixture, period: str | None) -> dict:
    response = await client.patch("/v1/brand", json={"retention": period}, headers=brand.headers("manage"))
    assert response.status_code == 200, response.text
    return response.json()


async def surveyed(
    client: AsyncTestClient,
    ctx: dict[str, Any],
    brand: BrandFixture,
    fake_twilio: FakeTwilio,
    customer: str,
    phone: str,
    note: str,
    comment: str,
) -> None:
    """A store visit with a note, its survey texted and delivered, and answered by reply down to the comment."""
    await invite(
        ctx, client, brand, visit(f"visit-{customer}", customer, phone=phone) | {"attributes": {"note": note}}
    )
    assert (
        await fake_twilio.status_callback(fake_twilio.messages[-1]["sid"], "delivered").post_async(client) == 204
    )
    for reply in [*DIALOGUE[:-1], comment]:
        await Phone(client, fake_twilio, phone).text(reply)


async def test_rows_older_than_the_period_are_anonymised_and_newer_ones_stay(
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx: dict[str, Any],
    fake_twilio: FakeTwilio,
) -> None:
    await text_survey(client, brand)
    assert (await keep_for(client, brand, "P30D"))["retention"] == "P30D"
    await surveyed(client, ctx, brand, fake_twilio, "old-timer", PHONE, OLD_NOTE, OLD_TEXT)
    refused = await sent_invitation(conn, brand, external_id="old-timer", phone=PHONE)
    wrong = await client.post(f"/v1/responses/{refused.token}/answers", json={"answers": {"nps": OLD_REFUSED}})
    assert wrong.status_code == 422
    await report(client, other_brand, visit("elsewhere", "old-timer") | {"attributes": {"note": OLD_NOTE}})
    # The period ends here: what came before is old once the clock is 30 days on, what comes after is not.
    boundary = await conn.fetchval("SELECT clock_timestamp()")
    await surveyed(client, ctx, brand, fake_twilio, "newcomer", OTHER_PHONE, NEW_NOTE, NEW_TEXT)
    acme = brand.brand.brand_id
    old = [OLD_NOTE, OLD_TEXT, OLD_REFUSED]
    assert {needle for _, _, needle in await traces_of(conn, acme, old)} == set(old)
    coded = await conn.fetch("SELECT answer_id, value FROM answers WHERE question_id <> 'comment' ORDER BY 1")

    anonymised = await jobs.run_retention(ctx["pool"], boundary + PERIOD)
    assert await traces_of(conn, acme, old) == set()
    # The old customer's phone is only where their contact data is: the customer row.
    assert await traces_of(conn, acme, [PHONE]) == {("customers", "phone", PHONE)}
    new = await traces_of(conn, acme, [NEW_NOTE, NEW_TEXT, OTHER_PHONE])
    assert {
        ("events", "attributes", NEW_NOTE),
        ("answers", "value", NEW_TEXT),
        ("answers", "raw", NEW_TEXT),
    } <= new
    assert {("messages", "recipient"), ("inbound_messages", "from_phone"), ("conversations", "recipient")} <= {
        (table, column) for table, column, needle in new if needle == OTHER_PHONE
    }
    # Another brand without a retention period keeps everything.
    assert await traces_of(conn, other_brand.brand.brand_id, [OLD_NOTE]) == {("events", "attributes", OLD_NOTE)}
    # Statistics read what they read before; an old free-text answer reads "" (answered, the words gone).
    assert (
        await conn.fetch("SELECT answer_id, value FROM answers WHERE question_id <> 'comment' ORDER BY 1") == coded
    )
    comments = await conn.fetch("SELECT value FROM answers WHERE question_id = 'comment' ORDER BY answered_at")
    assert [r["value"] for r in comments] == ["", NEW_TEXT]

    [entry] = (await client.get("/v1/audit?action=retention_applied", headers=brand.headers())).json()["items"]
    rows = entry["details"]["rows"]
    assert entry["actor"] == "retention" and entry["details"]["complete"] is True
    assert entry["details"]["retention"] == "P30D" and sum(rows.values()) == anonymised
    assert (rows["events"], rows["messages"], rows["answers"], rows["refused_answers"]) == (1, 2, 9, 1)
    assert (rows["inbound_messages"], rows["conversations"]) == (len(DIALOGUE), 1)
    until = await conn.fetchval("SELECT retention_applied_until FROM brands WHERE brand_id = $1", acme)
    assert until == boundary

    # Nothing is left to do: a second run anonymises nothing and writes no audit entry.
    assert await jobs.run_retention(ctx["pool"], boundary + PERIOD) == 0
    assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1
    # A month later the newcomer's rows are old too, and the run starts where the last one stopped.
    assert await jobs.run_retention(ctx["pool"], boundary + 2 * PERIOD) > 0
    assert await traces_of(conn, acme, [NEW_NOTE, NEW_TEXT]) == set()


async def test_runs_at_once_share_the_work(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx: dict[str, Any]
) -> None:
    await keep_for(client, brand, "P1D")
    events = [visit(f"v{n}", f"c-{n}") | {"attributes": {"note": f"note-{n}"}} for n in range(40)]
    response = await client.post("/v1/events/batch", json={"events": events}, headers=brand.headers("ingest"))
    assert response.status_code in (200, 202), response.text
    later = datetime.now(UTC) + timedelta(days=2)

    done = await asyncio.gather(*(jobs.run_retention(ctx["pool"], later, batch=3) for _ in range(2)))
    assert sum(done) == 40  # every old row once: none twice, none left
    assert await conn.fetchval("SELECT count(*) FROM events WHERE attributes <> '{}'") == 0
    audited = await conn.fetch("SELECT details FROM audit_log WHERE action = 'retention_applied'")
    assert sorted(e["details"]["rows"]["events"] for e in audited) == sorted(n for n in done if n)


async def test_a_run_out_of_time_stops_and_the_next_goes_on(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx: dict[str, Any]
) -> None:
    await keep_for(client, brand, "P1D")
    for n in range(3):
        await report(client, brand, visit(f"v{n}", "c-1") | {"attributes": {"note": n}})
    later = datetime.now(UTC) + timedelta(days=2)
    assert await jobs.run_retention(ctx["pool"], later, seconds=0) == 0
    assert await conn.fetchval("SELECT retention_applied_until FROM brands") is None
    assert await jobs.run_retention(ctx["pool"], later) == 3


async def test_a_run_reads_what_was_stored_since_the_last_and_once_a_day_everything(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx: dict[str, Any]
) -> None:
    await keep_for(client, brand, "P1D")
    await report(client, brand, visit("v1", "c-1") | {"attributes": {"note": 1}})
    first = datetime.now(UTC).replace(hour=12) + timedelta(days=2)
    assert await jobs.run_retention(ctx["pool"], first) == 1
    # An event that looks stored long before the last run (as rows written before ids were time-ordered do).
    await report(client, brand, visit("v2", "c-1") | {"attributes": {"note": 2}})
    await conn.execute(
        "UPDATE events SET received_at = received_at - interval '30 days', occurred_at = occurred_at - interval "
        "'30 days', event_id = gen_random_uuid() WHERE idempotency_key = 'v2'"
    )
    assert await jobs.run_retention(ctx["pool"], first + timedelta(hours=1)) == 0
    nightly = first.replace(hour=retention.WHOLE_HISTORY_HOUR) + timedelta(days=1)
    assert await jobs.run_retention(ctx["pool"], nightly) == 1
    assert await conn.fetchval("SELECT count(*) FROM events WHERE attributes <> '{}'") == 0
    [entry, _] = (await client.get("/v1/audit", headers=brand.headers())).json()["items"]
    assert entry["details"]["whole_history"] is True


async def test_the_period_is_a_brand_setting(client: AsyncTestClient, brand: BrandFixture) -> None:
    headers = brand.headers("manage")
    current = (await client.get("/v1/brand", headers=headers)).json()
    assert (current["retention"], current["erasure"]) == (None, "anonymise")
    assert (await keep_for(client, brand, "P90D"))["retention"] == "P90D"
    assert (await keep_for(client, brand, None))["retention"] is None
    for body, pointer in (
        ({"retention": "PT23H"}, "/retention"),
        ({"retention": "P40000D"}, "/retention"),
        ({"retention": 30}, "/retention"),
        ({"erasure": "shred"}, "/erasure"),
    ):
        refused = await client.patch("/v1/brand", json=body, headers=headers)
        assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == pointer, refused.text
    assert (
        await client.patch("/v1/brand", json={"retention": "P1D"}, headers=brand.headers("ingest"))
    ).status_code == 403


def test_the_worker_runs_retention_every_hour() -> None:
    [job] = [job for job in schedule() if job.coroutine is jobs.apply_retention]
    assert job.minute == 17 and job.hour is None and job.timeout_s == jobs.RETENTION_TIMEOUT


async def test_a_message_whose_invitation_is_still_open_keeps_its_recipient(
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx: dict[str, Any],
    fake_twilio: FakeTwilio,
) -> None:
    # Both brands text from the same number: a reply finds its brand by the last message sent to the phone.
    await text_survey(client, other_brand)
    await text_survey(client, brand, expires_after="P7D")
    await keep_for(client, brand, "P1D")
    await surveyed(client, ctx, brand, fake_twilio, "still-open", PHONE, NEW_NOTE, NEW_TEXT)
    assert await conn.fetchval("SELECT count(*) FROM conversations WHERE closed_at IS NULL") == 0
    # Two days on the message is old, but the survey can be answered for five days more.
    later = datetime.now(UTC) + timedelta(days=2)
    await jobs.run_retention(ctx["pool"], later)
    assert await conn.fetchval("SELECT recipient FROM messages") == PHONE
    assert await traces_of(conn, brand.brand.brand_id, [NEW_NOTE]) == set()
    await Phone(client, fake_twilio).text("STOP")
    assert (
        await conn.fetchval("SELECT brand_id FROM phone_opt_outs WHERE phone = $1", PHONE) == brand.brand.brand_id
    )
    # Once the invitation has expired, the message is aged out like any other (by the nightly run: it is behind
    # the hourly runs' window by then).
    nightly = (later + timedelta(days=7)).replace(hour=retention.WHOLE_HISTORY_HOUR)
    assert await jobs.run_retention(ctx["pool"], nightly) > 0
    assert await conn.fetchval("SELECT count(*) FROM messages WHERE recipient IS NOT NULL") == 0
