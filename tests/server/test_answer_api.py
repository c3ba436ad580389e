"""Answering from an app, ``/v1/responses/{token}``: the form and where the customer is, answers stored once
(a repeat changes nothing, a change is recorded), an explicit completion, and the problems an app meets — invalid
answers (422 naming each), a completed survey (409), an expired one (410), a token that is none (404)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import BrandFixture
from tests.responses.factories import sent_invitation
from tests.server.test_openapi import SPEC

PROBLEM = "application/problem+json"


async def answer(client: AsyncTestClient, token: str, **answers: Any) -> Any:
    return await client.post(f"/v1/responses/{token}/answers", json={"answers": answers})


async def history(conn: asyncpg.Connection, invitation_id: object) -> list[tuple[str, Any, str | None]]:
    rows = await conn.fetch(
        "SELECT question_id, value::text, replaced_reason, channel FROM answers WHERE invitation_id = $1 "
        "ORDER BY answered_at, question_id",
        invitation_id,
    )
    assert {r["channel"] for r in rows} <= {"app"}
    return [(r["question_id"], msgspec.json.decode(r["value"]), r["replaced_reason"]) for r in rows]


async def test_the_app_reads_the_form_in_the_customers_language_and_where_they_are(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, locale="de")
    response = await client.get(f"/v1/responses/{sent.token}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["form"]["locale"] == "de" and body["form"]["title"] == "Ihre Lieferung"
    assert body["form"]["version"] == sent.version and body["form"]["flow"] == "branching"
    assert [q["id"] for q in body["form"]["questions"]][:3] == ["nps", "stars", "mood"]
    assert body["response_state"] == "opened" and body["answers"] == {} and body["next_question"] == "nps"
    assert body["completed_at"] is None and body["expires_at"]
    opened = await conn.fetchrow(
        "SELECT opened_at, response_channel FROM invitations WHERE invitation_id = $1", sent.invitation_id
    )
    assert opened["opened_at"] is not None and opened["response_channel"] == "app"


@pytest.mark.parametrize(("wanted", "locale"), [("en", "en"), ("de-CH", "de"), ("DE", "de"), ("en_GB", "en")])
async def test_the_app_may_ask_for_another_offered_language(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, wanted: str, locale: str
) -> None:
    sent = await sent_invitation(conn, brand, locale="de")
    body = (await client.get(f"/v1/responses/{sent.token}", params={"locale": wanted})).json()
    assert body["form"]["locale"] == locale


@pytest.mark.parametrize("wanted", ["fr", "x", "!!"])
async def test_a_language_the_survey_is_not_in_is_refused(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, wanted: str
) -> None:
    sent = await sent_invitation(conn, brand)
    response = await client.get(f"/v1/responses/{sent.token}", params={"locale": wanted})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["pointer"] == "query:locale" and "en, de" in error["message"]


async def test_answers_are_stored_once_a_repeat_changes_nothing_and_a_change_is_recorded(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    first = await answer(client, sent.token, nps=9, stars=4)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["changed"] == ["nps", "stars"]
    assert body["answers"] == {"nps": 9, "stars": 4}
    assert body["response_state"] == "partial" and body["next_question"] == "mood"
    again = await answer(client, sent.token, nps=9, stars=4)  # a retry after a lost response
    assert again.status_code == 200 and again.json()["changed"] == []
    changed = await answer(client, sent.token, nps=7)
    assert changed.json()["changed"] == ["nps"] and changed.json()["answers"] == {"nps": 7, "stars": 4}
    assert await history(conn, sent.invitation_id) == [
        ("nps", 9, "changed"),
        ("stars", 4, None),
        ("nps", 7, None),
    ]


@pytest.mark.parametrize(
    ("answers", "pointer"),
    [
        ({"nps": 11}, "/answers/nps"),
        ({"nps": "9"}, "/answers/nps"),
        ({"nps": 9.5}, "/answers/nps"),
        ({"nps": None}, "/answers/nps"),  # a required question is not skipped
        ({"stars": 4}, "/answers/stars"),  # nps, before it, is not answered
        ({"nps": 9, "channel": "shop"}, "/answers/channel"),
        ({"nope": 1}, "/answers/nope"),
        ({"nps": {"value": 9}}, "/answers"),
        ({}, "/answers"),
    ],
)
async def test_invalid_answers_are_refused_naming_each_and_nothing_is_stored(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, answers: dict[str, Any], pointer: str
) -> None:
    sent = await sent_invitation(conn, brand)
    response = await client.post(f"/v1/responses/{sent.token}/answers", json={"answers": answers})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert await history(conn, sent.invitation_id) == []


async def test_a_body_that_is_not_the_documented_one_is_refused(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    path = f"/v1/responses/{sent.token}/answers"
    unknown = await client.post(path, json={"answers": {"nps": 9}, "complete": True})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "/complete"
    unreadable = await client.post(path, content=b"{nps: 9", headers={"content-type": "application/json"})
    assert unreadable.status_code == 400 and unreadable.headers["content-type"] == PROBLEM
    assert await history(conn, sent.invitation_id) == []


async def test_the_app_completes_once_the_flow_is_done_and_completing_again_changes_nothing(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, "store_visit_nps")
    await answer(client, sent.token, nps=4)
    early = await client.post(f"/v1/responses/{sent.token}/complete")
    assert early.status_code == 422
    assert [e["pointer"] for e in early.json()["errors"]] == ["/answers/went_wrong"]
    done = await answer(client, sent.token, went_wrong="The queue")
    assert done.json()["next_question"] is None and done.json()["response_state"] == "partial"
    completed = await client.post(f"/v1/responses/{sent.token}/complete")
    assert completed.status_code == 200, completed.text
    body = completed.json()
    assert body["response_state"] == "completed" and body["completed_at"] and body["next_question"] is None
    again = await client.post(f"/v1/responses/{sent.token}/complete")
    assert again.status_code == 200 and again.json()["completed_at"] == body["completed_at"]
    # Answers after completion are refused, saying why.
    late = await answer(client, sent.token, nps=10)
    assert late.status_code == 409 and late.headers["content-type"] == PROBLEM
    assert "completed" in late.json()["detail"] and late.json()["errors"]
    assert await history(conn, sent.invitation_id) == [("nps", 4, None), ("went_wrong", "The queue", None)]
    assert await refused(conn, sent.invitation_id) == [("app", '{"nps":10}', "completed")]
    read = (await client.get(f"/v1/responses/{sent.token}")).json()
    assert read["response_state"] == "completed" and read["next_question"] is None


async def test_answers_after_the_time_is_over_are_refused_and_the_expiry_recorded(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, expires_in=timedelta(seconds=-1))
    late = await answer(client, sent.token, nps=9)
    assert late.status_code == 410 and late.headers["content-type"] == PROBLEM
    assert "time to answer" in late.json()["detail"]
    assert (
        await conn.fetchval("SELECT response_state FROM invitations WHERE invitation_id = $1", sent.invitation_id)
        == "expired"
    )
    assert (await client.post(f"/v1/responses/{sent.token}/complete")).status_code == 410
    read = (await client.get(f"/v1/responses/{sent.token}")).json()
    assert read["response_state"] == "expired" and read["next_question"] is None
    assert await history(conn, sent.invitation_id) == []
    assert await refused(conn, sent.invitation_id) == [("app", '{"nps":9}', "expired")]


async def refused(conn: asyncpg.Connection, invitation_id: object) -> list[tuple[str, str, str]]:
    """The submissions kept although refused: nothing a customer sent is lost."""
    rows = await conn.fetch(
        "SELECT channel, raw, reason FROM refused_answers WHERE invitation_id = $1 ORDER BY received_at",
        invitation_id,
    )
    return [(r["channel"], r["raw"], r["reason"]) for r in rows]


async def test_a_token_that_is_none_gets_the_same_404_on_every_route(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    altered = sent.token[:-1] + ("A" if sent.token[-1] != "A" else "B")
    for token in (secrets.token_urlsafe(32), altered, "short", "x" * 42 + "!", "a" * 3000):
        for method, suffix, body in (("GET", "", None), ("POST", "/answers", {"answers": {"nps": 9}}),
                                     ("POST", "/complete", None)):  # fmt: skip
            response = await client.request(method, f"/v1/responses/{token}{suffix}", json=body)
            assert response.status_code == 404, (token, suffix)
            assert response.headers["content-type"] == PROBLEM
            problem = response.json()
            assert (problem["title"], problem["detail"]) == ("Not found", "no survey has this token")
    assert await history(conn, sent.invitation_id) == []


def test_the_document_describes_the_app_answer_api() -> None:
    paths = SPEC["paths"]
    read = paths["/v1/responses/{token}"]["get"]
    store = paths["/v1/responses/{token}/answers"]["post"]
    complete = paths["/v1/responses/{token}/complete"]["post"]
    assert {"200", "404", "422", "503"} <= set(read["responses"])
    assert {"200", "400", "404", "409", "410", "413", "422", "503"} <= set(store["responses"])
    assert {"200", "404", "410", "422", "503"} <= set(complete["responses"])
    for operation in (read, store, complete):
        assert "security" not in operation  # the token is the credential
    schemas = SPEC["components"]["schemas"]
    assert schemas["AnswersIn"]["additionalProperties"] is False
    assert {"form", "response_state", "expires_at", "answers", "next_question"} <= set(
        schemas["SurveyForm"]["properties"]
    )
