"""What a participant's text becomes (`responses.studies.participation.handle_code`, as the inbound SMS path calls it): a stored
encounter and a confirmation, an explanation of the format, or a word that the diary is not open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
from litestar.testing import AsyncTestClient

from tests.conftest import BrandFixture
from tests.helpers import PHONE, put_trigger
from tests.responses.studies import BASE_URL, customer_id, enrolled, move_diary, study_setup, text


async def test_a_text_from_someone_outside_any_study_is_not_the_studys(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    stranger = await client.put("/v1/customers/c-9", json={"phone": "+4915100000009"}, headers=brand.headers())
    assert stranger.status_code == 200
    assert await text(conn, brand, await customer_id(client, brand, "c-9"), "BT45") is None
    assert await text(conn, brand, uuid4(), "BT45") is None


async def test_an_own_brand_encounter_is_stored_confirmed_and_goes_through_the_brands_triggers(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    await put_trigger(client, brand, key="after_visit", touchpoint="store_visit")
    customer = await enrolled(client, brand)
    inbound = uuid4()
    reply = await text(conn, brand, customer, "b s 2 4", inbound_id=inbound)
    assert reply is not None
    assert reply.text.startswith(
        f"Thanks! BS24: Bolt, Store, positive 2/5, persuasive 4/5. Add a comment: {BASE_URL}/d/"
    )
    event = await conn.fetchrow(
        "SELECT event_id, touchpoint_key, source, concerns_brand, outcome, reason, invitation_id, attributes "
        "FROM events WHERE source = 'self_report'"
    )
    assert (event["touchpoint_key"], event["concerns_brand"], event["outcome"]) == (
        "store_visit",
        "Bolt",
        "scheduled",
    )
    assert event["attributes"] == {
        "study": "rides",
        "brand_code": "B",
        "brand": "Bolt",
        "own_brand": True,
        "touchpoint_code": "S",
        "positivity": 2,
        "persuasiveness": 4,
    }
    # The brand's trigger surveys the encounter, and the caller is handed its job to enqueue after commit.
    assert [job.invitation_id for job in reply.jobs] == [str(event["invitation_id"])]
    stored = await conn.fetchrow("SELECT * FROM self_reports")
    assert (stored["inbound_id"], stored["event_id"], stored["brand_letter"], stored["own_brand"]) == (
        inbound,
        event["event_id"],
        "B",
        True,
    )
    assert (stored["touchpoint_letter"], stored["positivity"], stored["persuasiveness"]) == ("S", 2, 4)

    # The provider retried its webhook: the same inbound message stores nothing new and confirms the same report.
    retried = await text(conn, brand, customer, "b s 2 4", inbound_id=inbound)
    assert retried is not None and retried.jobs == [] and retried.text.startswith("Thanks! BS24")
    assert await conn.fetchval("SELECT count(*) FROM self_reports") == 1
    assert await conn.fetchval("SELECT count(*) FROM events WHERE source = 'self_report'") == 1


async def test_a_competitor_encounter_is_stored_but_never_surveyed(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    await put_trigger(client, brand, key="after_visit", touchpoint="store_visit")
    customer = await enrolled(client, brand)
    inbound = uuid4()
    reply = await text(conn, brand, customer, "CS51", inbound_id=inbound)
    assert reply is not None and reply.jobs == []
    assert reply.text.startswith("Thanks! CS51: Cabco, Store, positive 5/5, persuasive 1/5.")
    event = await conn.fetchrow("SELECT * FROM events WHERE source = 'self_report'")
    assert (event["touchpoint_key"], event["concerns_brand"]) == ("store_visit", "Cabco")
    assert (event["outcome"], event["reason"], event["invitation_id"]) == (
        "not_surveyed",
        "competitor_encounter",
        None,
    )
    key = f"study:{await conn.fetchval('SELECT study_id FROM studies')}:report:{inbound}"
    read_back = (await client.get(f"/v1/events/{key}", headers=brand.headers())).json()
    assert (read_back["source"], read_back["concerns_brand"]) == ("self_report", "Cabco")
    assert read_back["decision"]["reason"] == "competitor_encounter"
    assert await conn.fetchval("SELECT own_brand FROM self_reports") is False
    # Only the pre-survey was scheduled for this participant.
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1


async def test_a_text_that_is_not_a_code_gets_the_format_and_stores_nothing(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand, help="Questions? Call 0800 123 456.")
    customer = await enrolled(client, brand)
    reply = await text(conn, brand, customer, "BX9")
    assert reply is not None and reply.jobs == []
    assert reply.text == (
        "Sorry, 'BX9' isn't a code: X is not a touchpoint letter. Text brand letter, touchpoint letter, then how "
        "positive (1-5) and how persuasive (1-5), e.g. BS45. Brands: B=Bolt, C=Cabco. Touchpoints: S=Store, "
        "T=TV ad. Questions? Call 0800 123 456."
    )
    assert (await text(conn, brand, customer, "see you tomorrow")).text.startswith(  # type: ignore[union-attr]
        "Sorry, 'see you tomorrow' isn't a code. Text brand letter"
    )
    assert await conn.fetchval("SELECT count(*) FROM self_reports") == 0
    assert await conn.fetchval("SELECT count(*) FROM events WHERE source = 'self_report'") == 0


async def test_replies_are_in_the_participants_language(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    customer = await enrolled(client, brand, locale="de-DE")
    confirmed = await text(conn, brand, customer, "BT45")
    assert confirmed is not None and confirmed.text.startswith(
        "Danke! BT45: Bolt, TV ad, positiv 4/5, überzeugend 5/5. Kommentar hinzufügen: http://lxt.test/d/"
    )
    refused = await text(conn, brand, customer, "BT46")
    assert refused is not None and refused.text.startswith(
        "'BT46' ist leider kein Code: beide Bewertungen gehen von 1 bis 5."
    )


async def test_outside_the_diary_a_text_is_answered_and_not_stored(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    customer = await enrolled(client, brand, time_zone="Europe/Berlin")
    now = datetime.now(UTC)
    await move_diary(conn, "p-1", starts=now + timedelta(days=1), ends=now + timedelta(days=8))
    early = await text(conn, brand, customer, "BT45")
    opens = (now + timedelta(days=1)).astimezone(ZoneInfo("Europe/Berlin")).date()
    assert early is not None and early.text == (
        f"Your diary for Ride diary opens on {opens.isoformat()}. Please text your codes from then on."
    )
    await move_diary(conn, "p-1", starts=now - timedelta(days=8), ends=now - timedelta(days=1))
    late = await text(conn, brand, customer, "BT45")
    assert late is not None and late.text.startswith("Your diary for Ride diary has ended")
    # A week after the end, the participant's texts are no longer the study's.
    await move_diary(conn, "p-1", starts=now - timedelta(days=15), ends=now - timedelta(days=8))
    assert await text(conn, brand, customer, "BT45") is None
    assert await conn.fetchval("SELECT count(*) FROM self_reports") == 0


async def test_a_withdrawn_or_opted_out_participant_is_not_answered(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    withdrawn = await enrolled(client, brand, external_id="p-1")
    stopped = await enrolled(client, brand, external_id="p-2", phone="+4915100000002")
    await client.delete("/v1/studies/rides/participants/p-1", headers=brand.headers("manage"))
    await client.put("/v1/customers/p-2", json={"opted_out": True}, headers=brand.headers("manage"))
    assert await text(conn, brand, withdrawn, "BT45") is None
    assert await text(conn, brand, stopped, "BT45") is None
    assert await conn.fetchval("SELECT count(*) FROM self_reports") == 0


async def test_a_code_texted_while_a_survey_question_waits_is_recorded_as_a_code(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, run_worker
) -> None:
    """The pre-survey opens an SMS conversation (in the sandbox); the participant texts an encounter before
    answering it. The code is a code, not a wrong answer, and the survey question still takes its answer."""
    await study_setup(client, brand)
    await enrolled(client, brand)
    await run_worker()

    async def reply(text: str) -> dict:
        response = await client.post(
            "/v1/sandbox/replies", json={"phone": PHONE, "text": text}, headers=brand.headers("manage")
        )
        assert response.status_code == 200, response.text
        return response.json()

    code = await reply("bt45")
    assert code["outcome"] == "code" and "BT45" in code["reply"]
    assert await conn.fetchval("SELECT count(*) FROM self_reports") == 1
    assert await conn.fetchval("SELECT count(*) FROM answers") == 0
    wrong = await reply("BX")  # neither a code nor an answer to the open question: the question asks again
    assert wrong["outcome"] == "reprompt"
    answer = await reply("9")
    assert answer["outcome"] == "answer"
    assert await conn.fetchval("SELECT value FROM answers WHERE question_id = 'nps'") == 9


async def test_after_stop_a_participant_is_texted_nothing_and_their_codes_are_not_stored(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, run_worker
) -> None:
    """A participant who texted STOP opted out of texting with the brand: a code texted after it is not stored
    and gets no confirmation (the study's compliance shows the gap); HELP and START are still answered."""
    await study_setup(client, brand)
    customer = await enrolled(client, brand)
    await run_worker()

    async def reply(text: str) -> dict:
        response = await client.post(
            "/v1/sandbox/replies", json={"phone": PHONE, "text": text}, headers=brand.headers("manage")
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert (await reply("STOP"))["outcome"] == "stop"
    for code in ("BS45", "nonsense"):
        ignored = await reply(code)
        assert (ignored["outcome"], ignored["reply"]) == ("ignored", None)
    assert await text(conn, brand, customer, "BS45") is None
    assert await conn.fetchval("SELECT count(*) FROM self_reports") == 0
    assert await conn.fetchval("SELECT count(*) FROM events WHERE source = 'self_report'") == 0
    assert (await reply("HELP"))["outcome"] == "help"
    assert (await reply("START"))["outcome"] == "start"
    assert (await reply("BS45"))["outcome"] == "code"
    assert await conn.fetchval("SELECT count(*) FROM self_reports") == 1
