"""Compliance as researchers read it per participant: codes per diary day, and prompts sent and answered during the
study."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from responses.studies.model import compliance
from tests.conftest import BrandFixture
from tests.helpers import event, put_trigger, report
from tests.responses.studies import enrolled, move_diary, study_setup, text

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = START + timedelta(days=7)


def test_diary_days_count_from_enrolment_and_stop_at_the_end_or_a_withdrawal() -> None:
    def days(now: datetime, withdrawn: datetime | None = None) -> int:
        return compliance(
            reports=0,
            prompts_sent=0,
            prompts_answered=0,
            diary_starts_at=START,
            diary_ends_at=END,
            withdrawn_at=withdrawn,
            now=now,
        ).diary_days_elapsed

    assert days(START) == 1  # at least one
    assert days(START + timedelta(hours=23)) == 1
    assert days(START + timedelta(days=1, seconds=1)) == 2
    assert days(END + timedelta(days=3)) == 7
    assert days(END, withdrawn=START + timedelta(days=2, hours=1)) == 3
    rates = compliance(
        reports=5, prompts_sent=3, prompts_answered=1, diary_starts_at=START, diary_ends_at=END, withdrawn_at=None,
        now=START + timedelta(days=2, hours=5),
    )  # fmt: skip
    assert (rates.reports_per_day, rates.answer_rate) == (1.67, 0.333)


async def send(conn: asyncpg.Connection, invitation_id: str, *, completed: bool) -> None:
    """The invitation as the worker leaves it once sent, and as the answers leave it once completed."""
    await conn.execute("UPDATE invitations SET status = 'sending' WHERE invitation_id = $1::uuid", invitation_id)
    await conn.execute("UPDATE invitations SET status = 'sent' WHERE invitation_id = $1::uuid", invitation_id)
    if completed:
        await conn.execute(
            "UPDATE invitations SET response_state = 'completed', completed_at = now() WHERE invitation_id = $1::uuid",
            invitation_id,
        )


async def test_compliance_per_participant(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    await put_trigger(client, brand, key="after_visit", touchpoint="store_visit")
    # Surveyed by the brand before the study: not one of the study's prompts.
    before = await report(client, brand, event("visit-before", customer="p-1"))
    await send(conn, before["invitation_id"], completed=True)
    await conn.execute(
        "UPDATE invitations SET created_at = now() - interval '5 days' WHERE invitation_id = $1::uuid",
        before["invitation_id"],
    )
    keeper = await enrolled(client, brand, external_id="p-1")
    await enrolled(client, brand, external_id="p-2", phone="+4915100000002")
    now = datetime.now(UTC)
    await move_diary(conn, "p-1", starts=now - timedelta(days=2, hours=12), ends=now + timedelta(days=4, hours=12))

    for code in ("BS45", "CT33", "CS12", "not a code"):
        await text(conn, brand, keeper, code)
    pre = await conn.fetchval(
        "SELECT i.invitation_id::text FROM invitations i JOIN triggers t USING (brand_id, trigger_id) "
        "JOIN customers c USING (brand_id, customer_id) WHERE t.key = 'study-rides-pre' AND c.external_id = 'p-1'"
    )
    await send(conn, pre, completed=True)
    fired = await conn.fetchval(
        "SELECT invitation_id::text FROM events WHERE source = 'self_report' AND invitation_id IS NOT NULL"
    )
    await send(conn, fired, completed=False)  # the own-brand store visit's survey, not answered

    listed = await client.get("/v1/studies/rides/participants", headers=brand.headers("export"))
    assert listed.status_code == 200
    by_id = {p["external_id"]: p["compliance"] for p in listed.json()["items"]}
    assert by_id["p-1"] == {
        "reports": 3,
        "diary_days_elapsed": 3,
        "reports_per_day": 1.0,
        "prompts_sent": 2,
        "prompts_answered": 1,
        "answer_rate": 0.5,
    }
    assert by_id["p-2"] == {
        "reports": 0,
        "diary_days_elapsed": 1,
        "reports_per_day": 0.0,
        "prompts_sent": 0,
        "prompts_answered": 0,
        "answer_rate": None,
    }
