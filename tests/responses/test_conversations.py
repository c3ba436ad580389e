"""Surveys answered by reply: every question type through a real send and signed replies, re-prompts and their
limit, retried and racing webhooks, a customer with two invitations, expiry mid-survey, replies outside any
conversation, WhatsApp, and the sandbox."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from notifications import jobs
from notifications.channels import link_token_hash
from questionnaires.render import render_sms, render_sms_thank_you
from responses import jobs as response_jobs
from responses import replies
from responses.received import Received, Reply
from responses.texts import DE, EN
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.fakes.twilio import FakeTwilio
from tests.helpers import PHONE, put_trigger, queued_jobs, report
from tests.responses.factories import definition, sent_invitation
from tests.responses.studies import enrol, enrolled, study_setup
from tests.responses.texting import (
    FROM,
    LINKED_TEMPLATE,
    TEMPLATE,
    Phone,
    conversation_rows,
    current_answers,
    inbound_rows,
    incoming,
    invite,
    text_survey,
    visit,
    whatsapp_link,
    with_twilio,
)
from triggers.schedule import InvitationJob

EVERY_TYPE = definition("every_type")
OTHER_PHONE = "+4915199999999"


def ask(question_id: str, locale: str = "en") -> str:
    """The SMS asking a question of every_type, as lxt renders it."""
    return render_sms(EVERY_TYPE, question_id, locale).text


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return with_twilio(settings, fake_twilio)


@pytest.fixture
def phone(client: AsyncTestClient, fake_twilio: FakeTwilio) -> Phone:
    return Phone(client, fake_twilio)


async def state(conn: asyncpg.Connection, invitation_id: str) -> tuple:
    row = await conn.fetchrow(
        "SELECT response_state, opened_at IS NOT NULL, response_channel FROM invitations WHERE invitation_id = $1",
        invitation_id,
    )
    return tuple(row)


async def link_for(conn: asyncpg.Connection, invitation_id: str) -> str:
    """A link token for the invitation, as a link-style message of it would carry (an SMS conversation has none)."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        """
        INSERT INTO messages (brand_id, message_id, invitation_id, attempt, channel, provider, style, recipient,
                              sender, status, body, segments, link_token_hash, accepted_at)
        SELECT brand_id, $2, invitation_id, 2, 'web_link', 'twilio', 'link', $3, $4, 'accepted', 'link', 1, $5, now()
        FROM invitations WHERE invitation_id = $1
        """,
        invitation_id,
        uuid4(),
        PHONE,
        FROM,
        link_token_hash(token),
    )
    return token


async def test_every_question_type_is_answered_by_reply(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    await text_survey(client, brand)
    invitation, said = await invite(ctx, client, brand, visit("e1"))
    assert said == "sent via sms (twilio)"
    [first] = fake_twilio.messages
    assert first["params"]["Body"] == render_sms(EVERY_TYPE, "nps", "en", intro=True).text
    assert await conversation_rows(conn) == [(invitation, "nps", 0, None)]

    # YES is also a START keyword: from a customer who never opted out it answers the yes/no question.
    dialogue = [
        ("9", ask("stars")),
        ("4 stars", ask("mood")),
        ("5", ask("effort")),
        ("skip", ask("channel")),
        ("On the website", ask("extras")),
        ("1 and 3", ask("again")),
        ("YES", ask("parcels")),
        ("3", ask("comment")),
        ("Quick and friendly, thanks", render_sms_thank_you(EVERY_TYPE, "en").text),
    ]
    for sent, expected in dialogue:
        assert await phone.text(sent) == expected, sent
    assert await current_answers(conn, invitation) == {
        "nps": 9,
        "stars": 4,
        "mood": 5,
        "effort": None,
        "channel": "web",
        "extras": ["chat", "tracking"],
        "again": True,
        "parcels": 3,
        "comment": "Quick and friendly, thanks",
    }
    assert await state(conn, invitation) == ("completed", True, "sms")
    assert await conversation_rows(conn) == [(invitation, "comment", 0, "completed")]
    assert {row[1] for row in await inbound_rows(conn)} == {"answer"}
    linked = await conn.fetchval(
        "SELECT count(*) FROM answers a JOIN inbound_messages i ON i.brand_id = a.brand_id "
        "AND i.inbound_id = a.inbound_id AND i.body = a.raw"
    )
    assert linked == 9  # each answer names the message it came in
    # Over: a later message belongs to no conversation, and this brand set no auto-reply.
    assert await phone.text("one more thing") is None
    assert (await inbound_rows(conn))[-1] == ("one more thing", "ignored", None)


async def test_the_conversation_is_held_in_the_customers_locale(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand)
    await invite(ctx, client, brand, visit("e1", locale="de-AT"))
    assert await phone.text("neun") == ask("stars", "de")
    assert await phone.text("viel") == "Bitte antworten Sie mit einer Zahl von 1 bis 5."


async def test_an_unreadable_answer_is_reprompted_twice_then_a_required_question_ends_it(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand)
    invitation, _ = await invite(ctx, client, brand, visit("e1"))
    reprompt = "Please reply with a number from 0 to 10."
    assert await phone.text("banana") == reprompt
    # The customer replied, unreadably: the invitation counts as opened, with nothing answered.
    assert await state(conn, invitation) == ("opened", True, "sms")
    assert await phone.text("eleven?") == reprompt
    assert await conversation_rows(conn) == [(invitation, "nps", 2, None)]
    assert await phone.text("I said banana") == EN.gave_up
    assert await conversation_rows(conn) == [(invitation, "nps", 2, "gave_up")]
    assert [row[1] for row in await inbound_rows(conn)] == ["reprompt", "reprompt", "closed"]
    assert await current_answers(conn, invitation) == {}
    assert await phone.text("9") is None  # the conversation is over


async def test_an_optional_question_unreadable_three_times_is_skipped(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand)
    invitation, _ = await invite(ctx, client, brand, visit("e1"))
    for answer in ("9", "4", "5"):
        await phone.text(answer)
    replies = [await phone.text(garbage) for garbage in ("very", "quite", "hmm")]
    assert replies == ["Please reply with a number from 1 to 7."] * 2 + [ask("channel")]
    assert (await current_answers(conn, invitation))["effort"] is None
    assert [row[1] for row in await inbound_rows(conn)][-3:] == ["reprompt", "reprompt", "skipped"]
    # Re-prompts count per question: the next one gets its own two.
    assert await phone.text("maybe") == "Please reply with one number from 1 to 3."
    assert await conversation_rows(conn) == [(invitation, "channel", 1, None)]


async def test_a_retried_webhook_answers_once_with_the_same_reply(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand)
    invitation, _ = await invite(ctx, client, brand, visit("e1"))
    first = await phone.text("9", sid="SMretried")
    again = await phone.text("9", sid="SMretried")
    assert first == again == ask("stars")
    # A retry of a re-prompted message is re-prompted the same, without counting twice.
    assert await phone.text("x", sid="SMbad") == await phone.text("x", sid="SMbad")
    assert await conversation_rows(conn) == [(invitation, "stars", 1, None)]
    assert await conn.fetchval("SELECT count(*) FROM answers") == 1
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 2


async def test_two_replies_racing_are_answered_one_after_the_other(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand)
    invitation, _ = await invite(ctx, client, brand, visit("e1"))
    # Both are valid answers to either of the first two questions: whichever is answered first is the NPS.
    replies = await asyncio.gather(phone.text("4", sid="SMa"), phone.text("5", sid="SMb"))
    assert sorted(replies) == sorted([ask("stars"), ask("mood")])
    answered = await current_answers(conn, invitation)
    assert sorted([answered["nps"], answered["stars"]]) == [4, 5]
    first = 0 if answered["nps"] == 4 else 1  # the message answered first took the NPS
    assert (replies[first], replies[1 - first]) == (ask("stars"), ask("mood"))
    assert await conversation_rows(conn) == [(invitation, "mood", 0, None)]
    assert [row[1] for row in await inbound_rows(conn)] == ["answer", "answer"]


async def test_a_second_invitation_goes_as_a_link_and_replies_stay_with_the_conversation(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    await text_survey(client, brand)  # when_busy: link, the default
    first, _ = await invite(ctx, client, brand, visit("e1"))
    second, said = await invite(ctx, client, brand, visit("e2"))
    assert said == "sent via sms (twilio)"
    styles = await conn.fetch("SELECT invitation_id::text, style FROM messages ORDER BY created_at")
    assert [tuple(r) for r in styles] == [(first, "conversation"), (second, "link")]
    assert "lxt.test/s/" in fake_twilio.messages[1]["params"]["Body"]
    assert await phone.text("9") == ask("stars")
    assert await current_answers(conn, first) == {"nps": 9}
    assert await current_answers(conn, second) == {}
    assert await conversation_rows(conn) == [(first, "stars", 0, None)]


async def test_a_second_invitation_that_waits_goes_once_the_conversation_is_over(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    await text_survey(client, brand, "store_visit_nps", when_busy="wait")
    await invite(ctx, client, brand, visit("e1"))
    second, said = await invite(ctx, client, brand, visit("e2"))
    assert said.startswith("deferred to ") and said.endswith("(conversation_busy)")
    waiting = await conn.fetchrow("SELECT status, planned_at FROM invitations WHERE invitation_id = $1", second)
    assert waiting["status"] == "scheduled"
    assert timedelta(seconds=50) < waiting["planned_at"] - datetime.now(UTC) <= timedelta(seconds=90)
    assert len(fake_twilio.messages) == 1

    assert await phone.text("8") == "Thank you for your feedback!"  # a passive: no follow-up question
    await conn.execute("UPDATE invitations SET planned_at = now() WHERE invitation_id = $1", second)
    assert await jobs.send_invitation(ctx, str(brand.brand.brand_id), second) == "sent via sms (twilio)"
    assert fake_twilio.messages[1]["params"]["Body"].startswith("Thanks for visiting us today!")
    assert (await phone.text("10") or "").startswith("Great to hear!")
    assert await current_answers(conn, second) == {"nps": 10}


async def test_a_waiting_invitation_is_stale_past_its_freshness_limit(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx
) -> None:
    await text_survey(client, brand, "store_visit_nps", when_busy="wait")
    await invite(ctx, client, brand, visit("e1"))
    second, _ = await invite(ctx, client, brand, visit("e2"))
    await conn.execute(
        "UPDATE invitations SET planned_at = now(), send_by = now() - interval '1 second' WHERE invitation_id = $1",
        second,
    )
    assert await jobs.send_invitation(ctx, str(brand.brand.brand_id), second) == "suppressed (stale)"


async def test_a_reply_after_the_invitation_expired_closes_the_conversation(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand)
    invitation, _ = await invite(ctx, client, brand, visit("e1", locale="de"))
    await phone.text("9")
    await conn.execute("UPDATE invitations SET expires_at = now() WHERE invitation_id = $1", invitation)
    assert await phone.text("4") == DE.survey_closed
    assert await conversation_rows(conn) == [(invitation, "stars", 0, "expired")]
    assert (await state(conn, invitation))[0] == "expired"
    assert await current_answers(conn, invitation) == {"nps": 9}
    assert (await inbound_rows(conn))[-1][1] == "closed"


async def test_the_brands_auto_reply_answers_outside_any_conversation(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand)
    invitation, _ = await invite(ctx, client, brand, visit("e1", locale="de-CH"))
    auto_reply = {"en": "This number takes no messages.", "de": "Diese Nummer nimmt keine Nachrichten an."}
    response = await client.put("/v1/messaging", json={"auto_reply": auto_reply}, headers=brand.headers("manage"))
    assert response.status_code == 200, response.text
    # Expired mid-survey: the brand's auto-reply closes it, in the customer's language.
    await conn.execute("UPDATE invitations SET expires_at = now() WHERE invitation_id = $1", invitation)
    assert await phone.text("9") == auto_reply["de"]
    assert await phone.text("Hallo?") == auto_reply["de"]
    assert [row[1] for row in await inbound_rows(conn)] == ["closed", "auto_reply"]
    # A phone that is no customer of the brand's gets nothing: lxt texts back only its customers.
    assert await Phone(phone.client, phone.fake, OTHER_PHONE).text("Hello?") is None
    assert (await inbound_rows(conn))[-1] == ("Hello?", "ignored", None)


async def test_the_sweep_expires_invitations_and_closes_their_conversations(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand)
    expired, _ = await invite(ctx, client, brand, visit("e1"))
    ongoing, _ = await invite(ctx, client, brand, visit("e2", customer="c-2", phone=OTHER_PHONE))
    await phone.text("9")
    await conn.execute("UPDATE invitations SET expires_at = now() WHERE invitation_id = $1", expired)
    assert await response_jobs.close_expired(ctx) == 1
    assert (await state(conn, expired))[0] == "expired"
    assert sorted(await conversation_rows(conn)) == sorted(
        [(expired, "stars", 0, "expired"), (ongoing, "nps", 0, None)]
    )
    assert await response_jobs.close_expired(ctx) == 0


async def test_a_send_the_provider_refused_leaves_no_conversation_behind(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await text_survey(client, brand)
    fake_twilio.fail_next(status=400, code=21612)
    result = await report(client, brand, visit("e1"))
    assert (await jobs.send_invitation(ctx, str(brand.brand.brand_id), result["invitation_id"])).startswith(
        "failed"
    )
    assert await conversation_rows(conn) == [(result["invitation_id"], "nps", 0, "not_sent")]
    _, said = await invite(ctx, client, brand, visit("e2"))
    assert said == "sent via sms (twilio)"
    assert [r["style"] for r in await conn.fetch("SELECT style FROM messages WHERE status = 'accepted'")] == [
        "conversation"
    ]


async def test_a_whatsapp_conversation(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    await text_survey(
        client, brand, "store_visit_nps", channels=["whatsapp"], whatsapp_template=TEMPLATE, when_busy="wait"
    )
    invitation, said = await invite(ctx, client, brand, visit("e1", whatsapp=True))
    assert said == "sent via whatsapp (twilio)"
    assert fake_twilio.messages[0]["params"]["To"] == f"whatsapp:{PHONE}"
    # An SMS to the same number is another channel: no conversation there.
    assert await phone.text("3") is None
    assert (
        await phone.text("3", channel="whatsapp")
        == "Sorry to hear that. What went wrong?\nReply in your own words, or SKIP to skip"
    )
    assert await phone.text("The queue", channel="whatsapp") == "Thank you for your feedback!"
    answered = await conn.fetch("SELECT question_id, channel FROM answers ORDER BY answered_at")
    assert [tuple(r) for r in answered] == [("nps", "whatsapp"), ("went_wrong", "whatsapp")]
    assert await current_answers(conn, invitation) == {"nps": 3, "went_wrong": "The queue"}


async def test_a_whatsapp_template_that_cannot_carry_the_link_is_refused_where_one_may_be_needed(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await text_survey(client, brand, "store_visit_nps", channels=["whatsapp"], whatsapp_template=LINKED_TEMPLATE)
    trigger = {
        "key": "after_visit",
        "name": "NPS after a store visit",
        "touchpoint": "store_visit",
        "questionnaire": "store_visit_nps",
        "channels": ["sms", "whatsapp"],
        "whatsapp_template": TEMPLATE,
    }
    # Busy with another conversation (when_busy: link, the default), the invitation would go without its link.
    for changes in ({}, {"style": "link"}):
        refused = await client.put(
            "/v1/triggers/after_visit", json={**trigger, **changes}, headers=brand.headers("manage")
        )
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["pointer"] == "/whatsapp_template/variables"
        assert "{link}" in error["message"]
    waits = await client.put(
        "/v1/triggers/after_visit", json={**trigger, "when_busy": "wait"}, headers=brand.headers("manage")
    )
    assert waits.status_code == 200, waits.text


async def test_a_second_whatsapp_invitation_goes_as_a_link_in_the_template(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    await text_survey(client, brand, channels=["whatsapp"], whatsapp_template=LINKED_TEMPLATE)
    first, _ = await invite(ctx, client, brand, visit("e1", whatsapp=True))
    second, said = await invite(ctx, client, brand, visit("e2", whatsapp=True))
    assert said == "sent via whatsapp (twilio)"
    styles = await conn.fetch("SELECT invitation_id::text, style FROM messages ORDER BY created_at")
    assert [tuple(r) for r in styles] == [(first, "conversation"), (second, "link")]
    # The link in the second message opens the second survey; replies stay with the first.
    page = await client.get(f"/s/{whatsapp_link(fake_twilio)}")
    assert page.status_code == 200
    assert await conn.fetchval("SELECT opened_at IS NOT NULL FROM invitations WHERE invitation_id = $1", second)
    assert await phone.text("9", channel="whatsapp") == ask("stars")
    assert await current_answers(conn, first) == {"nps": 9}
    assert await conversation_rows(conn) == [(first, "stars", 0, None)]


async def test_a_busy_whatsapp_invitation_whose_stored_template_has_no_link_waits(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await text_survey(client, brand, channels=["whatsapp"], whatsapp_template=LINKED_TEMPLATE)
    # A trigger stored before templates had to carry the link where one may be needed.
    await conn.execute(
        "UPDATE triggers SET definition = jsonb_set(definition, '{whatsapp_template,variables}', "
        """'{"1": "{question}"}')"""
    )
    await invite(ctx, client, brand, visit("e1", whatsapp=True))
    second, said = await invite(ctx, client, brand, visit("e2", whatsapp=True))
    assert said.startswith("deferred to ") and said.endswith("(conversation_busy)")
    assert len(fake_twilio.messages) == 1
    assert await conn.fetchval("SELECT status FROM invitations WHERE invitation_id = $1", second) == "scheduled"


async def test_a_reply_after_answers_on_the_web_page_gets_the_question_due_now(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    await text_survey(client, brand, channels=["whatsapp"], whatsapp_template=LINKED_TEMPLATE)
    invitation, _ = await invite(ctx, client, brand, visit("e1", whatsapp=True))
    assert json.loads(fake_twilio.messages[0]["params"]["ContentVariables"])["1"] == ask("nps")
    # The customer follows the message's link and answers the first two questions on the page.
    token = whatsapp_link(fake_twilio)
    for question, answer in (("nps", "9"), ("stars", "4")):
        posted = await client.post(
            f"/s/{token}", data={"question": question, "answer": answer}, follow_redirects=False
        )
        assert posted.status_code == 303, posted.text
    # Then replies to the message, meaning the NPS: not an answer to a question never asked by WhatsApp.
    assert await phone.text("8", channel="whatsapp") == ask("mood")
    assert await current_answers(conn, invitation) == {"nps": 9, "stars": 4}
    assert (await inbound_rows(conn))[-1] == ("8", "reprompt", ask("mood"))
    assert await conversation_rows(conn) == [(invitation, "mood", 0, None)]  # asked, no re-prompt counted
    assert await phone.text("4", channel="whatsapp") == ask("effort")
    assert await current_answers(conn, invitation) == {"nps": 9, "stars": 4, "mood": 4}


async def test_a_reply_after_answers_in_the_app_gets_the_question_due_now_by_sms(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand)
    invitation, _ = await invite(ctx, client, brand, visit("e1"))
    # An SMS conversation carries no link; the invitation gets one, as a link-style message would carry it.
    token = await link_for(conn, invitation)
    posted = await client.post(f"/v1/responses/{token}/answers", json={"answers": {"nps": 3}})
    assert posted.status_code == 200, posted.text
    assert await phone.text("9") == ask("stars")
    assert await current_answers(conn, invitation) == {"nps": 3}
    assert await conversation_rows(conn) == [(invitation, "stars", 0, None)]
    # An unreadable reply to the question asked now is re-prompted as ever, the first of two.
    assert await phone.text("lots") == "Please reply with a number from 1 to 5."
    assert await conversation_rows(conn) == [(invitation, "stars", 1, None)]


async def test_a_reply_to_a_survey_completed_on_the_web_page_is_thanked_and_the_conversation_completed(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    await text_survey(client, brand, "store_visit_nps", channels=["whatsapp"], whatsapp_template=LINKED_TEMPLATE)
    auto_reply = {"en": "This number takes no messages."}
    response = await client.put("/v1/messaging", json={"auto_reply": auto_reply}, headers=brand.headers("manage"))
    assert response.status_code == 200, response.text
    invitation, _ = await invite(ctx, client, brand, visit("e1", whatsapp=True))
    posted = await client.post(
        f"/s/{whatsapp_link(fake_twilio)}", data={"question": "nps", "answer": "8"}, follow_redirects=False
    )
    assert posted.status_code == 303, posted.text
    assert (await state(conn, invitation))[0] == "completed"  # a passive: no follow-up question
    # The reply, meant as the answer, comes too late: thanked, not the auto-reply for texts outside any survey.
    assert await phone.text("8", channel="whatsapp") == "Thank you for your feedback!"
    assert (await inbound_rows(conn))[-1] == ("8", "closed", "Thank you for your feedback!")
    assert await conversation_rows(conn) == [(invitation, "nps", 0, "completed")]
    assert await current_answers(conn, invitation) == {"nps": 8}
    assert await phone.text("Hello?", channel="whatsapp") == auto_reply["en"]


async def test_a_reply_once_the_app_answered_every_question_completes_the_survey(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    invitation, _ = await invite(ctx, client, brand, visit("e1"))
    token = await link_for(conn, invitation)
    # The app completes only on its own word, and has not said it yet.
    posted = await client.post(f"/v1/responses/{token}/answers", json={"answers": {"nps": 10, "liked": "Staff"}})
    assert posted.status_code == 200, posted.text
    assert (await state(conn, invitation))[0] == "partial"
    assert await phone.text("10") == "Thank you for your feedback!"
    assert await state(conn, invitation) == ("completed", True, "app")
    assert await conversation_rows(conn) == [(invitation, "nps", 0, "completed")]
    assert await current_answers(conn, invitation) == {"nps": 10, "liked": "Staff"}


async def test_a_conversation_through_a_messaging_service(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    phone: Phone,
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    service = "MG" + "1" * 32
    response = await client.put(
        "/v1/senders/sms",
        json={"messaging_service_sid": service, "rate_per_second": 1000},
        headers=brand.headers(),
    )
    assert response.status_code == 200, response.text
    await invite(ctx, client, brand, visit("e1"))
    assert fake_twilio.messages[0]["params"]["MessagingServiceSid"] == service
    # Twilio picked a number of the service's pool; the reply comes to that number, through the service.
    reply = await phone.text("9", to=fake_twilio.service_number, messaging_service_sid=service)
    assert reply == "Great to hear! What did you like most?\nReply in your own words, or SKIP to skip"


class TestTheSandbox:
    """Without Twilio the sandbox holds the conversation: `lxt sandbox reply` and ``POST /v1/sandbox/replies``
    take the same path as a reply to the webhook."""

    @pytest.fixture
    def settings(self, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
        plain = settings.replace(
            twilio_account_sid="", twilio_auth_token="", twilio_from_number="", twilio_whatsapp_from=""
        )
        monkeypatch.setenv("LXT_DATABASE_URL", plain.database_url)
        monkeypatch.setenv("LXT_REDIS_URL", plain.redis_url)
        monkeypatch.setenv("LXT_LOG_LEVEL", "WARNING")
        return plain

    async def survey(self, client: AsyncTestClient, brand: BrandFixture, ctx: dict[str, Any]) -> str:
        from tests.helpers import survey_setup

        await survey_setup(client, brand)
        result = await report(client, brand, visit("e1"))
        assert await jobs.send_invitation(ctx, str(brand.brand.brand_id), result["invitation_id"]) == (
            "sent via sms (sandbox)"
        )
        return str(result["invitation_id"])

    async def test_the_command_line_answers_as_the_webhook_would(
        self,
        client: AsyncTestClient,
        brand: BrandFixture,
        conn: asyncpg.Connection,
        ctx,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        from server.cli import main

        invitation = await self.survey(client, brand, ctx)
        assert await asyncio.to_thread(main, ["sandbox", "reply", PHONE, "ten"]) == 0
        out = capsys.readouterr().out
        assert ": answer\n" in out
        assert "    Great to hear! What did you like most?" in out
        assert await asyncio.to_thread(main, ["sandbox", "reply", PHONE, "HELP"]) == 0
        assert "Acme: short surveys about your experience. Reply STOP to unsubscribe." in capsys.readouterr().out
        assert await current_answers(conn, invitation) == {"nps": 10}
        assert await conn.fetchval("SELECT channel FROM answers") == "sandbox"

    async def test_the_api_answers_as_the_webhook_would(
        self, client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx
    ) -> None:
        invitation = await self.survey(client, brand, ctx)
        response = await client.post(
            "/v1/sandbox/replies", json={"phone": "+49 151 12345678", "text": "2"}, headers=brand.headers("manage")
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["outcome"], body["invitation_id"]) == ("answer", invitation)
        assert body["reply"] == "Sorry to hear that. What went wrong?\nReply in your own words, or SKIP to skip"
        stored = await conn.fetchrow("SELECT provider, outcome, reply FROM inbound_messages")
        assert tuple(stored) == ("sandbox", "answer", body["reply"])
        nobody = await client.post(
            "/v1/sandbox/replies", json={"phone": OTHER_PHONE, "text": "2"}, headers=brand.headers("manage")
        )
        assert nobody.status_code == 404
        bad = await client.post("/v1/sandbox/replies", json={"phone": "12", "text": "2"}, headers=brand.headers())
        assert [e["pointer"] for e in bad.json()["errors"]] == ["/phone"]


# -- the dispatcher --------------------------------------------------------------------------------------------------


async def answered(conn: asyncpg.Connection, brand: BrandFixture, body: str, steps: list) -> replies.Answered:
    found = await replies.answer(
        conn, incoming(brand, body), now=datetime.now(UTC), base_url="http://lxt.test", steps=steps
    )
    assert found is not None
    return found


async def test_a_step_that_fails_loses_nothing_and_texts_nothing(
    conn: asyncpg.Connection, brand: BrandFixture, caplog: pytest.LogCaptureFixture
) -> None:
    await sent_invitation(conn, brand, "store_visit_nps", phone=PHONE)

    async def broken(conn: asyncpg.Connection, received: Received) -> Reply | None:
        await conn.execute("UPDATE customers SET locale = 'fr'")  # rolled back with the rest of the step
        raise RuntimeError("a bug")

    failed = await answered(conn, brand, "9", [broken])
    assert (failed.reply.outcome, failed.reply.text) == ("error", None)
    assert "could not be answered" in caplog.text
    assert await inbound_rows(conn) == [("9", "error", None)]
    assert await conn.fetchval("SELECT locale FROM customers") == "en"
    # The provider retries: the message is not stored twice, and still gets nothing.
    again = await answered(conn, brand, "9", list(replies.STEPS))
    assert (again.message.duplicate, again.reply.outcome, again.reply.text) == (True, "error", None)


async def test_a_step_that_reads_only_the_words_plugs_in_after_the_conversation(
    conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    """Where a tracking study's code handler goes: its jobs come back to be queued after the commit."""
    sent = await sent_invitation(conn, brand, "store_visit_nps", phone=PHONE)
    job = InvitationJob(brand.brand.brand_id, str(sent.invitation_id), datetime.now(UTC))

    async def codes(
        conn: asyncpg.Connection,
        *,
        brand_id: UUID,
        customer_id: UUID,
        inbound_id: UUID,
        text: str,
        channel: str,
        now: datetime,
        base_url: str,
    ) -> replies.AutoReply | None:
        assert (brand_id, customer_id, channel, base_url) == (
            brand.brand.brand_id,
            sent.customer_id,
            "sms",
            "http://lxt.test",
        )
        return replies.AutoReply(f"code {text} noted", [job]) if text.startswith("A") else None

    steps = [*replies.STEPS[:-1], replies.on_text("code", codes), replies.STEPS[-1]]
    coded = (await answered(conn, brand, "A3", steps)).reply
    other = (await answered(conn, brand, "hello", steps)).reply
    assert (coded.outcome, coded.text, coded.jobs) == ("code", "code A3 noted", [job])
    assert (other.outcome, other.jobs) == ("ignored", [])
    assert await inbound_rows(conn) == [("A3", "code", "code A3 noted"), ("hello", "ignored", None)]


async def test_a_participants_texted_code_goes_to_the_study_and_its_invitation_is_queued(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, settings: Settings, phone: Phone
) -> None:
    await study_setup(client, brand)
    await enrolled(client, brand)
    await put_trigger(client, brand)  # store visits survey the customer: an own-brand encounter schedules one
    response = await client.put("/v1/senders/sms", json={"from": FROM}, headers=brand.headers("manage"))
    assert response.status_code == 201, response.text
    queued = await queued_jobs(settings)
    reply = await phone.text("BS45")
    assert reply is not None and reply.startswith("Thanks! BS45: Bolt, Store, positive 4/5, persuasive 5/5.")
    assert (await inbound_rows(conn))[-1][:2] == ("BS45", "code")
    assert await conn.fetchval("SELECT count(*) FROM self_reports") == 1
    # The encounter went through the brand's trigger; its send job was queued once the reply had committed.
    assert await queued_jobs(settings) == queued + 1
    # Keywords still come first: HELP is the brand's, not a code the study would refuse.
    assert await phone.text("HELP") == EN.help.format(brand="Acme")


async def test_a_customer_who_texted_stop_is_not_enrolled_in_a_study_until_start(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await invite(ctx, client, brand, visit("e1", customer="p-1"))
    await phone.text("STOP")
    await study_setup(client, brand)
    refused = await enrol(client, brand)
    assert refused.status_code == 409, refused.text
    assert "STOP" in refused.json()["detail"]
    assert await conn.fetchval("SELECT consents FROM customers") == {"sms": False}
    await phone.text("START")
    assert (await enrol(client, brand)).status_code == 201
