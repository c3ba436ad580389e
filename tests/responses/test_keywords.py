"""STOP, START and HELP: recognized before any answer, honoured at once on every path (the scheduler, the send job,
open conversations), opt-outs that events cannot undo, Twilio's Advanced Opt-Out, and the brand's own keywords
and texts (``/v1/messaging``)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from customers.model import Customer, CustomerIn, merge
from notifications import jobs, queries
from notifications.send import load, send_claimed
from responses.keywords import Keywords, check_keywords, keyword_of
from responses.texts import DE, EN
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.fakes.twilio import FakeTwilio
from tests.helpers import event, report
from tests.responses.texting import Phone, conversation_rows, inbound_rows, invite, text_survey, visit, with_twilio

NONE = Keywords()


# -- recognizing keywords (pure) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "stop", " Stop! ", "sToP.",
     "Stopp", "ARRÊT", "arret", "baja", "afmelden"],
)  # fmt: skip
def test_stop_words_as_the_whole_message(text: str) -> None:
    assert keyword_of(text, NONE) == "stop"


@pytest.mark.parametrize(("text", "kind"), [("START", "start"), ("yes", "start"), ("Unstop", "start"),
                                            ("HELP", "help"), ("info?", "help")])  # fmt: skip
def test_start_and_help_words(text: str, kind: str) -> None:
    assert keyword_of(text, NONE) == kind


@pytest.mark.parametrize("text", ["stop it", "please stop sending", "9", "yes please", "helpful", "", "s" * 2000])
def test_other_messages_are_no_keywords(text: str) -> None:
    assert keyword_of(text, NONE) is None


def test_the_brands_own_keywords_match_like_the_built_in_ones() -> None:
    own = Keywords(stop=["HALT"], start=["Wieder"], help=["Hilfe"]).normalized()
    assert (own.stop, own.start, own.help) == (["halt"], ["wieder"], ["hilfe"])
    assert [keyword_of(t, own) for t in ("halt!", "WIEDER", " hilfe ", "Hälte")] == ["stop", "start", "help", None]


def test_a_brands_keywords_are_checked() -> None:
    keywords = Keywords(stop=["halt", "123", "no", "halt"], start=["ja", "stop"], help=["halt", "hilfe"])
    errors = {e.pointer: e.message for e in check_keywords(keywords)}
    assert errors == {
        "/keywords/stop/1": "is a number, which answers questions: use a word",
        "/keywords/stop/2": "answers questions ('no'), and a stop keyword would take its place",
        "/keywords/stop/3": "is listed more than once",
        "/keywords/start/1": "is a stop keyword already",
        "/keywords/help/0": "is a stop keyword already",
    }
    # A start keyword may be a word that answers questions: it acts only while the customer is opted out.
    assert check_keywords(Keywords(start=["ja", "oui"], help=["hilfe"])) == []


# -- the stickiness of an opt-out (pure) ---------------------------------------------------------------------------


def test_an_event_cannot_grant_a_channel_the_customer_unsubscribed_from() -> None:
    stopped = Customer(
        customer_id="c", external_id="x", consents={"sms": False, "push": True}, unsubscribed=["sms"]
    )
    update = CustomerIn(consents={"sms": True, "whatsapp": True})
    merged, changes = merge(stopped, update, datetime.now(UTC), opt_in=False)
    assert merged.consents == {"sms": False, "push": True, "whatsapp": True}
    assert merged.unsubscribed == ["sms"]
    assert [(c.channel, c.granted) for c in changes] == [("whatsapp", True)]
    # The brand's explicit call with the manage scope does.
    merged, changes = merge(stopped, update, datetime.now(UTC), opt_in=True)
    assert (merged.consents["sms"], merged.unsubscribed) == (True, [])
    assert [(c.channel, c.granted) for c in changes] == [("sms", True), ("whatsapp", True)]


# -- through the webhook ---------------------------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return with_twilio(settings, fake_twilio)


@pytest.fixture
def phone(client: AsyncTestClient, fake_twilio: FakeTwilio) -> Phone:
    return Phone(client, fake_twilio)


async def consent(conn: asyncpg.Connection, external_id: str = "c-1") -> tuple:
    row = await conn.fetchrow("SELECT consents, unsubscribed FROM customers WHERE external_id = $1", external_id)
    return row["consents"].get("sms"), list(row["unsubscribed"])


async def consent_changes(conn: asyncpg.Connection) -> list[tuple]:
    rows = await conn.fetch("SELECT channel, granted, source FROM consent_changes ORDER BY change_id")
    return [tuple(r) for r in rows]


async def status(conn: asyncpg.Connection, invitation_id: str) -> tuple:
    return tuple(
        await conn.fetchrow(
            "SELECT status, status_reason FROM invitations WHERE invitation_id = $1", invitation_id
        )
    )


@pytest.mark.parametrize("word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "Quit.", "REVOKE", "optout"])
async def test_stop_opts_out_at_once_mid_survey(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone, word: str
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    invitation, _ = await invite(ctx, client, brand, visit("e1"))
    assert await phone.text(word) == EN.stopped.format(brand="Acme")
    assert await consent(conn) == (False, ["sms"])
    assert (await consent_changes(conn))[-1] == ("sms", False, "sms_keyword")
    assert await conversation_rows(conn) == [(invitation, "nps", 0, "stopped")]
    assert (await inbound_rows(conn))[-1][1] == "stop"
    # No answer was taken from it, and nothing more is asked.
    assert await conn.fetchval("SELECT count(*) FROM answers") == 0
    assert await phone.text("9") is None


async def test_stop_cancels_what_was_to_be_texted_and_the_scheduler_honours_it(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    phone: Phone,
    fake_twilio: FakeTwilio,
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await invite(ctx, client, brand, visit("e1"))
    pending = (await report(client, brand, visit("e2")))["invitation_id"]
    assert await phone.text("STOP") is not None
    assert await status(conn, pending) == ("cancelled", "opted_out")
    moves = await conn.fetch(
        "SELECT from_status, to_status, reason FROM invitation_transitions WHERE invitation_id = $1", pending
    )
    assert [tuple(m) for m in moves] == [("scheduled", "cancelled", "opted_out")]
    assert await jobs.send_invitation(ctx, str(brand.brand.brand_id), pending) == (
        "not claimed (already handled, or not due)"
    )
    # An event saying the customer consents to SMS does not undo their STOP.
    later = await report(client, brand, visit("e3"))
    assert (later["decision"], later["reason"]) == ("not_surveyed", "no_reachable_channel")
    assert await consent(conn) == (False, ["sms"])
    assert len(fake_twilio.messages) == 1


async def test_an_invitation_claimed_as_stop_arrives_is_suppressed_not_sent(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    phone: Phone,
    fake_twilio: FakeTwilio,
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await invite(ctx, client, brand, visit("e1"))
    pending = (await report(client, brand, visit("e2")))["invitation_id"]
    claimed = await queries.claim(conn, brand.brand.brand_id, pending, datetime.now(UTC))
    assert claimed is not None  # a worker has it: STOP cannot cancel it any more
    await phone.text("STOP")
    now = datetime.now(UTC)
    loaded = await load(conn, ctx["providers"], claimed, now)  # the send job reads the customer after its claim
    assert not isinstance(loaded, str)
    said = await send_claimed(ctx, claimed, loaded, now, lambda *_: None)  # type: ignore[arg-type]
    assert said == "suppressed (no_reachable_channel)"
    assert await status(conn, pending) == ("suppressed", "no_reachable_channel")
    assert len(fake_twilio.messages) == 1


async def test_start_opts_back_in_and_yes_does_too_only_when_opted_out(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await invite(ctx, client, brand, visit("e1", locale="de"))
    # Not opted out: START is read like any other reply, which the NPS question cannot take.
    assert await phone.text("start") == "Bitte antworten Sie mit einer Zahl von 0 bis 10."
    assert (await inbound_rows(conn))[-1][1] == "reprompt"
    assert await phone.text("Stopp") == DE.stopped.format(brand="Acme")
    assert await phone.text("Yes") == DE.started.format(brand="Acme")
    assert await consent(conn) == (True, [])
    assert await consent_changes(conn) == [("sms", True, "event"), ("sms", False, "sms_keyword"),
                                           ("sms", True, "sms_keyword")]  # fmt: skip
    later = await report(client, brand, visit("e2"))
    assert later["decision"] == "scheduled"


async def test_twilios_advanced_opt_out_answered_already(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    invitation, _ = await invite(ctx, client, brand, visit("e1"))
    # Twilio recognized the keyword and texted the customer itself: lxt records it and stays silent.
    assert await phone.text("STOP", opt_out_type="STOP") is None
    assert await consent(conn) == (False, ["sms"])
    assert (await consent_changes(conn))[-1] == ("sms", False, "twilio_opt_out")
    assert await conversation_rows(conn) == [(invitation, "nps", 0, "stopped")]
    assert await phone.text("START", opt_out_type="START") is None
    assert (await consent_changes(conn))[-1] == ("sms", True, "twilio_opt_out")
    assert await phone.text("HELP", opt_out_type="HELP") is None
    assert [row[1:] for row in await inbound_rows(conn)] == [("stop", None), ("start", None), ("help", None)]


async def test_help_gets_the_default_text_or_the_brands_own(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    invitation, _ = await invite(ctx, client, brand, visit("e1", locale="de"))
    assert await phone.text("HELP") == DE.help.format(brand="Acme")
    own = {"help_text": {"en": "Acme surveys. Call 0800 123.", "de": "Acme-Umfragen. Rufen Sie 0800 123 an."}}
    assert (await client.put("/v1/messaging", json=own, headers=brand.headers("manage"))).status_code == 200
    assert await phone.text("info") == "Acme-Umfragen. Rufen Sie 0800 123 an."
    # HELP left the conversation as it was.
    assert await conversation_rows(conn) == [(invitation, "nps", 0, None)]
    assert await phone.text("9") is not None
    assert (await inbound_rows(conn))[-1][1] == "answer"


async def test_a_brands_own_keywords(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    settings = {"keywords": {"stop": ["Abmeldung"], "start": ["Anmeldung"], "help": ["Hilfe"]}}
    response = await client.put("/v1/messaging", json=settings, headers=brand.headers("manage"))
    assert response.status_code == 200, response.text
    assert response.json()["keywords"] == {"stop": ["abmeldung"], "start": ["anmeldung"], "help": ["hilfe"]}
    await invite(ctx, client, brand, visit("e1"))
    assert await phone.text("HILFE") == EN.help.format(brand="Acme")
    assert await phone.text("abmeldung!") == EN.stopped.format(brand="Acme")
    assert await consent(conn) == (False, ["sms"])
    assert await phone.text("Anmeldung") == EN.started.format(brand="Acme")
    assert [row[1] for row in await inbound_rows(conn)] == ["help", "stop", "start"]


async def test_stop_on_whatsapp_leaves_sms_alone(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await report(client, brand, visit("e1", sms=True, whatsapp=True))
    assert await phone.text("stop", channel="whatsapp") == EN.stopped.format(brand="Acme")
    row = await conn.fetchrow("SELECT consents, unsubscribed FROM customers")
    assert (row["consents"], list(row["unsubscribed"])) == ({"sms": True, "whatsapp": False}, ["whatsapp"])
    assert (await consent_changes(conn))[-1] == ("whatsapp", False, "whatsapp_keyword")


async def test_stop_reaches_every_customer_sharing_the_phone(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await report(client, brand, visit("e1", customer="parent"))
    await report(client, brand, visit("e2", customer="child"))
    await phone.text("STOP")
    assert await consent(conn, "parent") == await consent(conn, "child") == (False, ["sms"])


async def test_an_opt_out_only_a_manage_key_can_take_back(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await report(client, brand, visit("e1"))
    await phone.text("STOP")
    body = {"consents": {"sms": True}}
    ingest = await client.put("/v1/customers/c-1", json=body, headers=brand.headers("ingest"))
    assert ingest.status_code == 200
    assert (ingest.json()["consents"], ingest.json()["unsubscribed"]) == ({"sms": False}, ["sms"])
    manage = await client.put("/v1/customers/c-1", json=body, headers=brand.headers("manage"))
    assert (manage.json()["consents"], manage.json()["unsubscribed"]) == ({"sms": True}, [])
    assert (await consent_changes(conn))[-1] == ("sms", True, "api")


async def test_a_carriers_unsubscribe_is_sticky_too(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    fake_twilio.fail_next(status=400, code=21610)
    result = await report(client, brand, visit("e1"))
    assert (await jobs.send_invitation(ctx, str(brand.brand.brand_id), result["invitation_id"])).startswith(
        "failed"
    )
    assert await consent(conn) == (False, ["sms"])
    later = await report(client, brand, visit("e2"))
    assert later["reason"] == "no_reachable_channel"
    assert await consent(conn) == (False, ["sms"])


# -- after STOP: nothing but the keywords' own replies ------------------------------------------------------------

AUTO_REPLY = "This number takes no messages."


async def auto_reply(client: AsyncTestClient, brand: BrandFixture) -> None:
    body = {"auto_reply": AUTO_REPLY}
    assert (await client.put("/v1/messaging", json=body, headers=brand.headers("manage"))).status_code == 200


async def test_after_stop_the_channel_hears_only_the_keywords_replies(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await report(client, brand, visit("e1", sms=True, whatsapp=True))
    await auto_reply(client, brand)
    assert await phone.text("why?") == AUTO_REPLY
    assert await phone.text("STOP") == EN.stopped.format(brand="Acme")
    assert await phone.text("why?") is None
    assert await phone.text("HELP") == EN.help.format(brand="Acme")
    # WhatsApp was not stopped: it is answered as before.
    assert await phone.text("why?", channel="whatsapp") == AUTO_REPLY
    assert await phone.text("START") == EN.started.format(brand="Acme")
    assert await phone.text("why?") == AUTO_REPLY
    assert [row[1] for row in await inbound_rows(conn)] == [
        "auto_reply", "stop", "ignored", "help", "auto_reply", "start", "auto_reply"
    ]  # fmt: skip


# -- START takes back only the customer's own opt-out ----------------------------------------------------------------


async def test_yes_and_start_do_not_grant_a_consent_the_brand_withdrew(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await report(client, brand, visit("e1"))
    await auto_reply(client, brand)
    withdrawn = await client.put("/v1/customers/c-1", json={"consents": {"sms": False}}, headers=brand.headers())
    assert withdrawn.status_code == 200
    # The customer never opted out: YES and START are texts like any other, answered by the auto-reply.
    assert await phone.text("Yes") == AUTO_REPLY
    assert await phone.text("START") == AUTO_REPLY
    # Twilio's Advanced Opt-Out answered a START itself: recorded, and it grants nothing either.
    assert await phone.text("START", opt_out_type="START") is None
    assert await consent(conn) == (False, [])
    assert await consent_changes(conn) == [("sms", True, "event"), ("sms", False, "api")]
    assert [row[1] for row in await inbound_rows(conn)] == ["auto_reply", "auto_reply", "start"]
    later = await report(client, brand, event("e2") | {"customer": {"external_id": "c-1"}})
    assert (later["decision"], later["reason"]) == ("not_surveyed", "no_reachable_channel")


async def test_start_after_stop_leaves_a_consent_the_brand_withdrew_alone(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await report(client, brand, visit("e1", customer="parent"))
    await report(client, brand, visit("e2", customer="child"))
    await client.put("/v1/customers/child", json={"consents": {"sms": False}}, headers=brand.headers())
    await phone.text("STOP")
    assert await phone.text("START") == EN.started.format(brand="Acme")
    assert await consent(conn, "parent") == (True, [])
    # The brand had withdrawn the child's consent before the STOP: START gives back only what the STOP took.
    assert await consent(conn, "child") == (False, [])


# -- an opt-out belongs to the phone -----------------------------------------------------------------------------------

OTHER_PHONE = "+4915199999999"


async def test_a_customer_created_later_with_a_phone_that_stopped_is_not_texted(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    phone: Phone,
    fake_twilio: FakeTwilio,
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await invite(ctx, client, brand, visit("e1", customer="a"))
    await phone.text("STOP")
    # Another record of the brand's with the same phone, whose system says it consents to SMS.
    later = await report(client, brand, visit("e2", customer="b"))
    # Decided before the write carried the phone's opt-out over to the new record: the send job's re-check
    # reads the customer again and stops it.
    assert later["decision"] == "scheduled"
    said = await jobs.send_invitation(ctx, str(brand.brand.brand_id), later["invitation_id"])
    assert said == "suppressed (no_reachable_channel)"
    assert len(fake_twilio.messages) == 1
    assert await consent(conn, "b") == (False, ["sms"])
    changes = await conn.fetch(
        """
        SELECT channel, granted, source FROM consent_changes
        WHERE customer_id = (SELECT customer_id FROM customers WHERE external_id = 'b') ORDER BY change_id
        """
    )
    assert [tuple(c) for c in changes] == [("sms", True, "event"), ("sms", False, "phone_opt_out")]
    again = await report(client, brand, visit("e3", customer="b"))
    assert (again["decision"], again["reason"]) == ("not_surveyed", "no_reachable_channel")
    # The phone's START opts both back in.
    assert await phone.text("START") == EN.started.format(brand="Acme")
    assert await consent(conn, "a") == await consent(conn, "b") == (True, [])
    assert (await report(client, brand, visit("e4", customer="c")))["decision"] == "scheduled"


async def test_a_phone_changed_to_one_that_stopped_is_opted_out_too(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await report(client, brand, visit("e1", customer="a"))
    await report(client, brand, visit("e2", customer="b", phone=OTHER_PHONE))
    await phone.text("STOP")
    assert await consent(conn, "b") == (True, [])
    moved = await client.put("/v1/customers/b", json={"phone": "+49 151 12345678"}, headers=brand.headers())
    assert (moved.json()["consents"], moved.json()["unsubscribed"]) == ({"sms": False}, ["sms"])
    assert await consent(conn, "b") == (False, ["sms"])


async def test_a_stop_from_a_phone_the_brand_does_not_know_yet_holds_for_its_customer_later(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    assert await phone.text("STOP") == EN.stopped.format(brand="Acme")
    later = await report(client, brand, visit("e1"))
    assert (later["decision"], await consent(conn)) == ("scheduled", (False, ["sms"]))
    assert (await report(client, brand, visit("e2")))["reason"] == "no_reachable_channel"


async def test_a_carriers_unsubscribe_holds_for_a_later_customer_with_the_phone(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    fake_twilio.fail_next(status=400, code=21610)
    result = await report(client, brand, visit("e1", customer="a"))
    await jobs.send_invitation(ctx, str(brand.brand.brand_id), result["invitation_id"])
    later = await report(client, brand, visit("e2", customer="b"))
    assert later["decision"] == "scheduled"  # decided before the write carried the opt-out over (see above)
    assert await consent(conn, "b") == (False, ["sms"])
    assert await jobs.send_invitation(ctx, str(brand.brand.brand_id), later["invitation_id"]) == (
        "suppressed (no_reachable_channel)"
    )


async def test_a_phones_stop_stays_with_the_brand_it_was_texted_to(
    client: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, conn: asyncpg.Connection, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await phone.text("STOP")
    await report(client, other_brand, visit("e1"))
    await report(client, brand, visit("e1"))
    rows = await conn.fetch(
        """
        SELECT b.slug, c.consents, c.unsubscribed FROM customers c JOIN brands b USING (brand_id) ORDER BY b.slug
        """
    )
    assert {r["slug"]: (r["consents"], list(r["unsubscribed"])) for r in rows} == {
        brand.brand.slug: ({"sms": False}, ["sms"]),
        other_brand.brand.slug: ({"sms": True}, []),
    }


async def test_a_manage_key_taking_an_opt_out_back_lifts_it_for_the_phone(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, phone: Phone
) -> None:
    await text_survey(client, brand, "store_visit_nps")
    await report(client, brand, visit("e1", customer="a"))
    await phone.text("STOP")
    lifted = await client.put("/v1/customers/a", json={"consents": {"sms": True}}, headers=brand.headers("manage"))
    assert lifted.json()["unsubscribed"] == []
    # The brand has the customer's renewed consent for the phone: a new record with it is not opted out.
    await report(client, brand, visit("e2", customer="b"))
    assert await consent(conn, "b") == (True, [])


# -- the settings API ------------------------------------------------------------------------------------------------


async def test_messaging_settings_read_and_replaced(client: AsyncTestClient, brand: BrandFixture) -> None:
    read = (await client.get("/v1/messaging", headers=brand.headers("manage"))).json()
    assert read | {"builtin_keywords": None} == {
        "help_text": None,
        "auto_reply": None,
        "keywords": {"stop": [], "start": [], "help": []},
        "updated_at": None,
        "builtin_keywords": None,
    }
    assert {"stop", "stopall", "stopp", "arret"} <= set(read["builtin_keywords"]["stop"])
    assert read["builtin_keywords"]["start"] == ["start", "unstop", "yes"]
    body = {"help_text": "Acme surveys", "auto_reply": {"en": "No replies here"}, "keywords": {"help": ["Hilfe"]}}
    put = await client.put("/v1/messaging", json=body, headers=brand.headers("manage"))
    assert put.status_code == 200, put.text
    again = (await client.get("/v1/messaging", headers=brand.headers("manage"))).json()
    assert (again["help_text"], again["auto_reply"], again["keywords"]["help"]) == (
        "Acme surveys",
        {"en": "No replies here"},
        ["hilfe"],
    )
    assert again["updated_at"] is not None
    forbidden = await client.get("/v1/messaging", headers=brand.headers("ingest"))
    assert forbidden.status_code == 403


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        ({"keywords": {"stop": ["12"], "help": ["stop"]}}, ["/keywords/stop/0", "/keywords/help/0"]),
        ({"keywords": {"stop": ["two words"]}}, ["/keywords/stop/0"]),
        ({"keywords": {"stop": ["x" * 21]}}, ["/keywords/stop/0"]),
        ({"keywords": {"halt": ["x"]}}, ["/keywords/halt"]),
        ({"help_text": ""}, ["/help_text"]),
        ({"auto_reply": {"de": "🙂" * 400}}, ["/auto_reply/de"]),
        ({"auto_reply": {"klingon!": "x"}}, ["/auto_reply"]),
    ],
)
async def test_bad_messaging_settings_name_the_field(
    client: AsyncTestClient, brand: BrandFixture, body: dict, pointers: list[str]
) -> None:
    response = await client.put("/v1/messaging", json=body, headers=brand.headers("manage"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == pointers
