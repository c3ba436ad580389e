"""A customer's timeline read back through the API: a German-speaking customer's store visit, the survey texted to
them through (fake) Twilio by the real worker, its delivery, their replies and their STOP, in the order it
happened; pages, filters and refusals; an answer changed in the app; and a study participant's texted reports."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from research.timeline import TimelineQuery, customer_timeline
from responses.answers import expire_due
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.fakes.twilio import FakeTwilio
from tests.helpers import event, report
from tests.responses.factories import sent_invitation
from tests.responses.studies import enrolled, study_setup
from tests.responses.texting import FROM, Phone, text_survey, visit, with_twilio

NPS_DE = "Wie wahrscheinlich ist es, dass Sie unser Geschäft einem Freund empfehlen?"
LIKED_DE = "Das freut uns! Was hat Ihnen am besten gefallen?"


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return with_twilio(settings, fake_twilio)


async def timeline(
    client: AsyncTestClient, brand: BrandFixture, customer: str = "c-1", scope: str = "manage", **query: Any
) -> dict:
    response = await client.get(f"/v1/customers/{customer}/timeline", params=query, headers=brand.headers(scope))
    assert response.status_code == 200, response.text
    return response.json()


def of_kind(items: list[dict], kind: str) -> list[dict]:
    return [item["detail"] for item in items if item["kind"] == kind]


async def visited_surveyed_and_stopped(
    client: AsyncTestClient, brand: BrandFixture, run_worker: Any, fake_twilio: FakeTwilio
) -> str:
    """Customer c-1, who reads German, visits the store; the worker texts them the survey, Twilio reports it
    delivered, they answer 9 and say what they liked, and then text STOP. The visit's invitation id."""
    await text_survey(client, brand, "store_visit_nps")
    reported = await report(client, brand, visit("visit-1", locale="de"))
    await run_worker()
    [sent] = fake_twilio.messages
    assert await fake_twilio.status_callback(sent["sid"], "delivered").post_async(client) in (200, 204)
    phone = Phone(client, fake_twilio)
    assert await phone.text("9") == f"{LIKED_DE}\nAntworten Sie in eigenen Worten oder WEITER zum Überspringen"
    assert await phone.text("Freundliches Personal") == "Vielen Dank für Ihr Feedback!"
    assert (await phone.text("STOP") or "").startswith("Acme: Sie sind abgemeldet")
    return str(reported["invitation_id"])


async def test_a_customers_story_reads_back_in_the_order_it_happened(
    client: AsyncTestClient, brand: BrandFixture, run_worker: Any, fake_twilio: FakeTwilio
) -> None:
    invitation_id = await visited_surveyed_and_stopped(client, brand, run_worker, fake_twilio)

    page = await timeline(client, brand)
    items = page["items"]
    assert [item["kind"] for item in items] == [
        "event",  # the visit, when it occurred
        "consent",  # the event's consent to SMS, then what lxt decided with it
        "decision",
        "invitation",
        "invitation_status",  # a worker claims it …
        "message",  # … and texts it
        "invitation_status",  # Twilio accepted it
        "receipt",  # and reported it delivered
        "inbound",  # "9"
        "opened",
        "answer",
        "inbound",  # "Freundliches Personal"
        "answer",
        "completed",
        "inbound",  # "STOP"
        "consent",
    ]
    assert page["next_cursor"] is None and page["personal_data"] is True
    assert [item["at"] for item in items] == sorted(item["at"] for item in items)
    [event] = of_kind(items, "event")
    assert (event["touchpoint"], event["source"], event["idempotency_key"]) == ("store_visit", "brand", "visit-1")
    [decision] = of_kind(items, "decision")
    assert (decision["outcome"], decision["reason"], decision["trigger"]) == ("scheduled", None, "after_visit")
    assert [e["outcome"] for e in decision["evaluations"]] == ["scheduled"]
    [invited] = of_kind(items, "invitation")
    assert (invited["trigger"], invited["questionnaire_key"], invited["channels"]) == (
        "after_visit",
        "store_visit_nps",
        ["sms"],
    )
    assert {item["invitation_id"] for item in items[2:14]} == {invitation_id}
    assert [(s["from_status"], s["to_status"]) for s in of_kind(items, "invitation_status")] == [
        ("scheduled", "sending"),
        ("sending", "sent"),
    ]
    [message] = of_kind(items, "message")
    assert (message["channel"], message["provider"], message["status"], message["delivery_status"]) == (
        "sms",
        "twilio",
        "accepted",
        "delivered",
    )
    [receipt] = of_kind(items, "receipt")
    assert receipt["status"] == "delivered" and receipt["message_id"] == items[5]["item_id"]
    # The answers, with each question as the customer read it, in German, and what they replied.
    answers = of_kind(items, "answer")
    assert [(a["question_id"], a["question_text"], a["locale"], a["value"]) for a in answers] == [
        ("nps", NPS_DE, "de", 9),
        ("liked", LIKED_DE, "de", "Freundliches Personal"),
    ]
    assert all(a["current"] and a["channel"] == "sms" for a in answers)
    replies = of_kind(items, "inbound")
    assert [(r["body"], r["outcome"]) for r in replies] == [
        ("9", "answer"),
        ("Freundliches Personal", "answer"),
        ("STOP", "stop"),
    ]
    assert [a["inbound_id"] for a in answers] == [items[8]["item_id"], items[11]["item_id"]]
    assert of_kind(items, "opened") == [{"channel": "sms"}]
    [completed] = of_kind(items, "completed")
    assert completed["end_reason"] == "completed" and completed["seconds_after_contact"] > 0
    assert [(c["channel"], c["granted"], c["source"]) for c in of_kind(items, "consent")] == [
        ("sms", True, "event"),
        ("sms", False, "sms_keyword"),
    ]


async def test_an_export_key_reads_the_answers_but_not_the_customers_messages(
    client: AsyncTestClient, brand: BrandFixture, run_worker: Any, fake_twilio: FakeTwilio
) -> None:
    """Free-text answers are the research data; what the customer texted is theirs, as their phone number is:
    only a key that may read their contact data (manage, export_pii) reads it."""
    await visited_surveyed_and_stopped(client, brand, run_worker, fake_twilio)
    for scope, personal in (("export", False), ("export_pii", True), ("manage", True)):
        page = await timeline(client, brand, scope=scope)
        assert page["personal_data"] is personal, scope
        bodies = [r["body"] for r in of_kind(page["items"], "inbound")]
        assert bodies == (["9", "Freundliches Personal", "STOP"] if personal else [None, None, None]), scope
        answers = of_kind(page["items"], "answer")
        assert [a["value"] for a in answers] == [9, "Freundliches Personal"], scope
        assert [a["raw"] for a in answers] == (["9", "Freundliches Personal"] if personal else [None, None])
    refused = await client.get("/v1/customers/c-1/timeline", headers=brand.headers("ingest"))
    assert refused.status_code == 403


async def test_an_events_idempotency_key_is_read_only_by_keys_that_may_read_contact_data(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    """Brands name events by order or ticket numbers, which lead back to the customer: exports hold the key back
    without export_pii, and so does the timeline."""
    await report(client, brand, event("order-4711"))
    for scope, key in (("export", None), ("export_pii", "order-4711"), ("manage", "order-4711")):
        page = await timeline(client, brand, scope=scope)
        assert [e["idempotency_key"] for e in of_kind(page["items"], "event")] == [key], scope


async def test_pages_cover_the_timeline_once_in_order(
    client: AsyncTestClient, brand: BrandFixture, run_worker: Any, fake_twilio: FakeTwilio
) -> None:
    await visited_surveyed_and_stopped(client, brand, run_worker, fake_twilio)
    whole = (await timeline(client, brand))["items"]
    for query in ({}, {"kind": ["answer", "inbound", "consent"]}, {"from": whole[4]["at"], "to": whole[12]["at"]}):
        everything = (await timeline(client, brand, **query))["items"]
        pages, cursor = [], None
        while True:
            page = await timeline(client, brand, limit=3, **query, **({"cursor": cursor} if cursor else {}))
            pages.append(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [item for page in pages for item in page] == everything, query
        assert all(len(page) == 3 for page in pages[:-1]) and 0 < len(pages[-1]) <= 3
        assert len(pages) == -(-len(everything) // 3)


async def test_kinds_and_a_time_range_narrow_the_timeline(
    client: AsyncTestClient, brand: BrandFixture, run_worker: Any, fake_twilio: FakeTwilio
) -> None:
    await visited_surveyed_and_stopped(client, brand, run_worker, fake_twilio)
    whole = (await timeline(client, brand))["items"]
    chosen = await timeline(client, brand, kind=["answer", "consent"])
    assert [item["kind"] for item in chosen["items"]] == ["consent", "answer", "answer", "consent"]
    assert chosen["items"] == [item for item in whole if item["kind"] in ("answer", "consent")]

    # From the delivery receipt (inclusive) to the STOP (exclusive).
    start, end = whole[7]["at"], whole[14]["at"]
    ranged = (await timeline(client, brand, **{"from": start, "to": end}))["items"]
    assert [item["kind"] for item in ranged] == [
        "receipt", "inbound", "opened", "answer", "inbound", "answer", "completed"
    ]  # fmt: skip
    assert ranged == [item for item in whole if start <= item["at"] < end]
    assert (await timeline(client, brand, **{"from": whole[-1]["at"], "kind": "decision"}))["items"] == []


async def test_unknown_customers_and_bad_queries_are_refused_naming_what_was_wrong(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await client.put("/v1/customers/c-1", json={"locale": "de"}, headers=brand.headers("manage"))
    missing = await client.get("/v1/customers/nobody/timeline", headers=brand.headers("export"))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "nobody" in missing.json()["detail"]
    for query, field in (
        ({"kind": ["answer", "gossip"]}, "query:kind"),
        ({"from": "yesterday"}, "query:from"),
        ({"to": "2026-01-01T00:00:00"}, "query:to"),  # no UTC offset
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "query:to"),
        ({"cursor": "not-a-cursor"}, "query:cursor"),
        ({"cursor": "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHxnb3NzaXB8eA"}, "query:cursor"),  # an unknown kind in it
        ({"limit": 0}, "query:limit"),
    ):
        response = await client.get("/v1/customers/c-1/timeline", params=query, headers=brand.headers("export"))
        assert response.status_code == 422, (query, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["pointer"] for e in response.json()["errors"]] == [field], query
    assert (await timeline(client, brand, scope="export"))["items"] == []


async def test_times_at_the_ends_of_the_calendar_are_answered_or_refused(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await report(client, brand, event("order-4711"))
    for query in (
        {"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"},
        {"from": "0001-01-01T00:00:00+14:00"},
        {"to": "9999-12-31T23:59:59-12:00"},
        {"cursor": "MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMHxldmVudHx4"},  # 0001-01-01T00:00:00+14:00|event|x
        {"cursor": "é" * 5000},
        {"limit": "١٠"},
        {"limit": "9" * 400},
    ):
        response = await client.get("/v1/customers/c-1/timeline", params=query, headers=brand.headers("export"))
        assert response.status_code in (200, 422), (query, response.text)


async def test_an_erased_customers_tombstone_has_no_timeline(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    """The tombstone an anonymising erasure leaves is nobody: the API cannot even name it (its id is longer than any
    external id), and the timeline's own look-up passes it by whoever asks."""
    await report(client, brand, event("order-4711"))
    erased = await client.delete("/v1/customers/c-1", headers=brand.headers("manage"))
    assert erased.status_code == 200, erased.text
    tombstone = await conn.fetchval("SELECT external_id FROM customers WHERE brand_id = $1", brand.brand.brand_id)
    assert tombstone.startswith("erased:")
    for scope in ("export", "manage"):
        response = await client.get(f"/v1/customers/{tombstone}/timeline", headers=brand.headers(scope))
        assert response.status_code == 422, response.text
    found = await customer_timeline(conn, brand.brand.brand_id, tombstone, TimelineQuery(), personal=True)
    assert found is None


async def test_an_answer_changed_in_the_app_stays_in_the_timeline_marked(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    """A Swiss customer answers 3 and says what went wrong, then changes the score to 9: the 3 was changed, and
    the complaint is no longer asked for (branching); both stay, marked, with the questions in German."""
    sent = await sent_invitation(conn, brand, "store_visit_nps", external_id="c-2", locale="de-CH", style="link")
    for answers in ({"nps": 3, "went_wrong": "Zu lange gewartet"}, {"nps": 9}):
        stored = await client.post(f"/v1/responses/{sent.token}/answers", json={"answers": answers})
        assert stored.status_code == 200, stored.text
    page = await timeline(client, brand, "c-2", kind="answer")
    shown = [
        (a["question_id"], a["question_text"], a["value"], a["current"], a["replaced_reason"])
        for a in of_kind(page["items"], "answer")
    ]
    # The first two were given together: items of the same instant and kind are in the order of their ids.
    assert sorted(shown[:2]) == [
        ("nps", NPS_DE, 3, False, "changed"),
        ("went_wrong", "Das tut uns leid. Was ist schiefgelaufen?", "Zu lange gewartet", False, "branch"),
    ]
    assert shown[2] == ("nps", NPS_DE, 9, True, None)
    assert {a["locale"] for a in of_kind(page["items"], "answer")} == {"de"}
    assert {item["invitation_id"] for item in page["items"]} == {str(sent.invitation_id)}


async def test_a_survey_left_half_answered_expires_at_its_time(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    sent = await sent_invitation(conn, brand, "store_visit_nps", external_id="c-3", style="link")
    stored = await client.post(f"/v1/responses/{sent.token}/answers", json={"answers": {"nps": 7}})
    assert stored.status_code == 200, stored.text
    expires_at = await conn.fetchval(
        "SELECT expires_at FROM invitations WHERE invitation_id = $1", sent.invitation_id
    )
    assert await expire_due(conn, expires_at + timedelta(minutes=1)) == 1

    items = (await timeline(client, brand, "c-3", kind=["opened", "answer", "completed", "expired"]))["items"]
    assert [item["kind"] for item in items] == ["opened", "answer", "expired"]
    assert items[-1]["detail"] == {"answered": True}
    assert datetime.fromisoformat(items[-1]["at"]) == expires_at
    assert of_kind(items, "answer")[0]["question_text"] == (
        "How likely are you to recommend our store to a friend?"  # the customer reads English
    )


async def test_a_study_participants_texted_reports_and_comments_are_in_their_timeline(
    client: AsyncTestClient, brand: BrandFixture, fake_twilio: FakeTwilio
) -> None:
    await study_setup(client, brand)
    await enrolled(client, brand, external_id="p-1")
    response = await client.put("/v1/senders/sms", json={"from": FROM}, headers=brand.headers("manage"))
    assert response.status_code == 201, response.text
    # The participant saw a competitor's TV ad and liked it a lot, and comments on it in the diary.
    reply = await Phone(client, fake_twilio).text("CT54")
    assert reply is not None and reply.startswith("Thanks! CT54: Cabco, TV ad")
    match = re.search(r"http://lxt\.test(/d/[A-Za-z0-9_-]{43})$", reply)
    assert match, reply
    items = (await timeline(client, brand, "p-1"))["items"]
    [reported] = of_kind(items, "self_report")
    commented = await client.post(
        match[1], data={"report_id": reported_id(items), "comment": "Lustiger Spot"}, follow_redirects=False
    )
    assert commented.status_code == 303

    items = (await timeline(client, brand, "p-1"))["items"]
    enrolment = next(e for e in of_kind(items, "event") if e["source"] == "study")
    assert enrolment["touchpoint"].startswith("study")
    assert [i["kind"] for i in items if i["at"] >= items_at(items, "self_report")] == [
        "inbound", "self_report", "event", "decision", "diary_comment"
    ]  # fmt: skip
    [code] = [r for r in of_kind(items, "inbound") if r["outcome"] == "code"]
    assert code["body"] == "CT54"
    assert (reported["study"], reported["brand_name"], reported["own_brand"], reported["touchpoint_key"]) == (
        "rides",
        "Cabco",
        False,
        "tv_ad",
    )
    assert (reported["positivity"], reported["persuasiveness"]) == (5, 4)
    self_reported = next(e for e in of_kind(items, "event") if e["source"] == "self_report")
    assert (self_reported["touchpoint"], self_reported["concerns_brand"]) == ("tv_ad", "Cabco")
    decision = next(
        i for i in items if i["kind"] == "decision" and i["event_id"] == event_of(items, "self_report")
    )
    assert (decision["detail"]["outcome"], decision["detail"]["reason"]) == (
        "not_surveyed",
        "competitor_encounter",
    )
    assert of_kind(items, "diary_comment") == [{"report_id": reported_id(items), "comment": "Lustiger Spot"}]


def items_at(items: list[dict], kind: str) -> str:
    return next(item["at"] for item in items if item["kind"] == kind)


def event_of(items: list[dict], kind: str) -> str:
    return next(item["event_id"] for item in items if item["kind"] == kind)


def reported_id(items: list[dict]) -> str:
    return next(item["item_id"] for item in items if item["kind"] == "self_report")
