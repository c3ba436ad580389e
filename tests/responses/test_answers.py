"""The answering path every channel shares: stored once, retries idempotent, changes recorded, races serialized,
nothing taken after completion or expiry."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from responses import answers
from responses.answers import AnswersInvalid, Given, InvitationCompleted, InvitationExpired
from server import db
from tests.conftest import BrandFixture
from tests.responses.factories import sent_invitation


def now() -> datetime:
    return datetime.now(UTC)


async def give(
    conn: asyncpg.Connection, token: str, *pairs: tuple[str, object], channel: str = "app"
) -> answers.Outcome:
    async with conn.transaction():
        found = await answers.find_by_token(conn, token)
        assert found is not None
        given = [Given(qid, value, repr(value)) for qid, value in pairs]
        return await answers.give(conn, found, given, channel=channel, now=now(), complete_when_done=False)  # type: ignore[arg-type]


async def rows(conn: asyncpg.Connection, invitation_id: object) -> list[tuple[str, object, str | None]]:
    found = await conn.fetch(
        "SELECT question_id, value, replaced_reason FROM answers WHERE invitation_id = $1 ORDER BY answered_at, "
        "question_id",
        invitation_id,
    )
    return [(r["question_id"], r["value"], r["replaced_reason"]) for r in found]


async def test_unknown_and_malformed_tokens_find_nothing(conn: asyncpg.Connection, brand: BrandFixture) -> None:
    await sent_invitation(conn, brand)
    assert await answers.find_by_token(conn, secrets.token_urlsafe(32)) is None
    assert await answers.find_by_token(conn, "short") is None
    assert await answers.find_by_token(conn, "x" * 42 + "!") is None


async def test_answers_are_stored_once_and_a_retry_writes_nothing(
    conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    first = await give(conn, sent.token, ("nps", 9), ("stars", 4))
    assert first.changed == ["nps", "stars"]
    again = await give(conn, sent.token, ("nps", 9), ("stars", 4))
    assert again.changed == []
    assert await rows(conn, sent.invitation_id) == [("nps", 9, None), ("stars", 4, None)]
    state = await conn.fetchrow(
        "SELECT response_state, first_answer_at, first_answer_after FROM invitations WHERE invitation_id = $1",
        sent.invitation_id,
    )
    assert state["response_state"] == "partial"
    assert timedelta(minutes=4) < state["first_answer_after"] < timedelta(minutes=6)


async def test_a_changed_answer_keeps_the_old_one_replaced(conn: asyncpg.Connection, brand: BrandFixture) -> None:
    sent = await sent_invitation(conn, brand)
    await give(conn, sent.token, ("nps", 3))
    await give(conn, sent.token, ("nps", 8))
    assert await rows(conn, sent.invitation_id) == [("nps", 3, "changed"), ("nps", 8, None)]


async def test_changing_an_earlier_answer_drops_what_it_hides(
    conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, "store_visit_nps")
    await give(conn, sent.token, ("nps", 3), ("went_wrong", "Long queue"))
    outcome = await give(conn, sent.token, ("nps", 10))
    assert outcome.answering.answers == {"nps": 10}
    assert ("went_wrong", "Long queue", "branch") in await rows(conn, sent.invitation_id)


async def test_invalid_answers_name_the_question_and_store_nothing(
    conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    with pytest.raises(AnswersInvalid) as raised:
        await give(conn, sent.token, ("nps", 11))
    assert [e.pointer for e in raised.value.errors] == ["/answers/nps"]
    with pytest.raises(AnswersInvalid) as raised:
        await give(conn, sent.token, ("stars", 3))  # nps, before it, is not answered
    assert [e.pointer for e in raised.value.errors] == ["/answers/stars"]
    with pytest.raises(AnswersInvalid):
        await give(conn, sent.token, ("nope", 3))
    assert await rows(conn, sent.invitation_id) == []


async def test_the_flow_completes_and_then_takes_nothing(conn: asyncpg.Connection, brand: BrandFixture) -> None:
    sent = await sent_invitation(conn, brand, "store_visit_nps")
    async with conn.transaction():
        found = await answers.find_by_token(conn, sent.token)
        assert found is not None
        outcome = await answers.give(conn, found, [Given("nps", 7, "7")], channel="web", now=now())
    assert outcome.completed_now
    state = await conn.fetchrow(
        "SELECT response_state, end_reason, completed_after FROM invitations WHERE invitation_id = $1",
        sent.invitation_id,
    )
    assert (state["response_state"], state["end_reason"]) == ("completed", "completed")
    with pytest.raises(InvitationCompleted):
        await give(conn, sent.token, ("nps", 8))


async def test_the_app_completes_explicitly_once_the_flow_is_over(
    conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, "store_visit_nps")
    await give(conn, sent.token, ("nps", 2))
    found = await answers.find_by_token(conn, sent.token)
    assert found is not None
    with pytest.raises(AnswersInvalid) as raised:
        await answers.complete(conn, found, channel="app", now=now())
    assert raised.value.errors[0].pointer == "/answers/went_wrong"
    await give(conn, sent.token, ("went_wrong", None))
    found = await answers.find_by_token(conn, sent.token)
    assert found is not None
    assert await answers.complete(conn, found, channel="app", now=now()) is True
    assert await answers.complete(conn, found, channel="app", now=now()) is False


async def test_answers_after_expiry_are_refused_and_the_invitation_expires(
    conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, expires_in=timedelta(seconds=-1))
    with pytest.raises(InvitationExpired):
        await give(conn, sent.token, ("nps", 9))
    found = await answers.find_by_token(conn, sent.token)
    assert found is not None and isinstance(found.closed(now()), InvitationExpired)
    await answers.expire(conn, found)
    assert (
        await conn.fetchval("SELECT response_state FROM invitations WHERE invitation_id = $1", sent.invitation_id)
        == "expired"
    )


async def test_the_sweep_expires_unfinished_invitations(conn: asyncpg.Connection, brand: BrandFixture) -> None:
    await sent_invitation(conn, brand, external_id="late", expires_in=timedelta(hours=1))
    done = await sent_invitation(conn, brand, "store_visit_nps", external_id="done", expires_in=timedelta(hours=1))
    async with conn.transaction():
        found = await answers.find_by_token(conn, done.token)
        assert found is not None
        await answers.give(conn, found, [Given("nps", 8, "8")], channel="web", now=now())
    assert await answers.expire_due(conn, now() + timedelta(hours=2)) == 1
    states = dict(
        await conn.fetch(
            "SELECT external_id, response_state FROM invitations JOIN customers USING (brand_id, customer_id)"
        )
    )
    assert states == {"late": "expired", "done": "completed"}


async def test_two_answers_racing_are_applied_one_after_the_other(
    database_url: str, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    first, second = await db.connect(database_url), await db.connect(database_url)
    try:
        results = await asyncio.gather(
            give(first, sent.token, ("nps", 4)), give(second, sent.token, ("nps", 6)), return_exceptions=True
        )
    finally:
        await first.close()
        await second.close()
    assert not [r for r in results if isinstance(r, BaseException)]
    stored = await rows(conn, sent.invitation_id)
    assert len([r for r in stored if r[2] is None]) == 1
    assert len(stored) == 2


async def test_the_brand_reads_back_every_answer_and_the_response_times(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, "store_visit_nps")
    await give(conn, sent.token, ("nps", 4))
    await give(conn, sent.token, ("nps", 9))
    await sent_invitation(conn, brand, "store_visit_nps", external_id="silent")

    response = await client.get(f"/v1/invitations/{sent.invitation_id}", headers=brand.headers("export"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response_state"] == "partial"
    assert [(a["value"], a["current"], a["replaced_reason"]) for a in body["answers"]] == [
        (4, False, "changed"),
        (9, True, None),
    ]
    assert 240 < body["latency"]["first_answer"]["seconds"] < 360
    assert body["latency"]["completed"] == {"at": None, "seconds": None}

    listed = await client.get("/v1/invitations?response=partial", headers=brand.headers("export"))
    assert [i["invitation_id"] for i in listed.json()["items"]] == [str(sent.invitation_id)]


async def test_a_refused_submission_is_kept(conn: asyncpg.Connection, brand: BrandFixture) -> None:
    sent = await sent_invitation(conn, brand)
    found = await answers.find_by_token(conn, sent.token)
    assert found is not None
    try:
        await give(conn, sent.token, ("nps", 12))
    except AnswersInvalid as refused:
        await answers.record_refused(conn, found, channel="app", raw='{"nps": 12}', refusal=refused, now=now())
    row = await conn.fetchrow(
        "SELECT raw, reason, errors FROM refused_answers WHERE invitation_id = $1", sent.invitation_id
    )
    assert (row["raw"], row["reason"]) == ('{"nps": 12}', "invalid")
    assert row["errors"][0]["pointer"] == "/answers/nps"
