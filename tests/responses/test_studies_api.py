"""Setting up a study and enrolling participants through the API: what is refused (naming the field), what a study
registers of the brand's, and that enrolment schedules the pre-survey through the brand's own machinery."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import BrandFixture
from tests.helpers import PHONE, event, queued_job_ids, report, survey_setup
from tests.responses.studies import enrol, enrolled, put_study, study_body, study_setup


def pointers(response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [e["pointer"] for e in response.json()["errors"]]


async def test_a_study_registers_its_touchpoints_and_survey_triggers(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    study = await study_setup(client, brand)
    assert (study["key"], study["started_at"], study["participants"]) == ("rides", None, 0)
    assert study["brands"] == {"B": {"name": "Bolt", "own": True}, "C": {"name": "Cabco", "own": False}}
    touchpoints = {t["key"]: t for t in (await client.get("/v1/touchpoints", headers=brand.headers())).json()}
    assert {"tv_ad", "store_visit", "study-rides-enrolled", "study-rides-ended"} <= set(touchpoints)
    assert touchpoints["tv_ad"]["category"] == "paid" and touchpoints["tv_ad"]["auto_created"]
    pre = (await client.get("/v1/triggers/study-rides-pre", headers=brand.headers())).json()
    assert (pre["touchpoint"], pre["questionnaire"], pre["delay"]) == (
        "study-rides-enrolled",
        "store_visit_nps",
        "P0D",
    )
    assert pre["frequency"] == {
        "brand_gap": "P0D",
        "trigger_gap": "P0D",
        "daily_cap": None,
        "exempt_from_brand_rules": True,
    }
    post = (await client.get("/v1/triggers/study-rides-post", headers=brand.headers())).json()
    assert (post["touchpoint"], post["questionnaire"]) == ("study-rides-ended", "delivery_csat")

    again = await put_study(client, brand, name="Ride diary, spring", diary_days=10)
    assert again.status_code == 200 and again.json()["diary_days"] == 10
    assert len((await client.get("/v1/studies", headers=brand.headers("export"))).json()) == 1
    read = await client.get("/v1/studies/rides", headers=brand.headers("export"))
    assert read.json()["name"] == "Ride diary, spring"
    assert (await client.get("/v1/studies/nope", headers=brand.headers())).status_code == 404


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"brands": {"B": {"name": "Bolt"}, "C": {"name": "Cabco"}}}, ["/brands"]),
        ({"brands": {"B": {"name": "Bolt", "own": True}, "C": {"name": "Cabco", "own": True}}}, ["/brands"]),
        ({"brands": {"B": {"name": "Bolt", "own": True}, "b": {"name": "Bee"}}}, ["/brands/b"]),
        ({"brands": {"B": {"name": "Bolt", "own": True}, "C": {"name": "bolt"}}}, ["/brands/C/name"]),
        ({"brands": {"BB": {"name": "Bolt", "own": True}}}, ["/brands"]),
        ({"brands": {}}, ["/brands"]),
        ({"touchpoints": {"T": {"name": "TV ad", "touchpoint_key": "TV Ad"}}}, ["/touchpoints"]),
        ({"touchpoints": {"T": {"name": "TV", "touchpoint_key": "tv"}, "t": {"name": "x", "touchpoint_key": "x"}}},
         ["/touchpoints/t"]),
        ({"touchpoints": {"E": {"name": "Mine", "touchpoint_key": "study-rides-enrolled"}}},
         ["/touchpoints/E/touchpoint_key"]),
        ({"pre_questionnaire": "missing"}, ["/pre_questionnaire"]),
        ({"pre_questionnaire": "missing", "post_questionnaire": "gone"}, ["/pre_questionnaire", "/post_questionnaire"]),
        ({"diary_days": 0}, ["/diary_days"]),
        ({"diary_days": 61}, ["/diary_days"]),
        ({"diary_days": "7"}, ["/diary_days"]),
        ({"channels": ["push"]}, ["/channels/0"]),
        ({"channels": ["sms", "sms"]}, ["/channels"]),
        ({"send_window": {"start": "09:00", "end": "09:00"}}, ["/send_window/end"]),
        ({"welcome": "x" * 481}, ["/welcome"]),
        ({"colour": "red"}, ["/colour"]),
    ],
)  # fmt: skip
async def test_an_invalid_study_is_refused_naming_each_field(
    client: AsyncTestClient, brand: BrandFixture, overrides: dict, expected: list[str]
) -> None:
    await study_setup(client, brand, key="base")
    response = await put_study(client, brand, **overrides)
    assert response.status_code == 422, response.text
    assert pointers(response) == expected
    assert (await client.get("/v1/studies/rides", headers=brand.headers())).status_code == 404


async def test_keys_and_bodies_the_api_cannot_read(client: AsyncTestClient, brand: BrandFixture) -> None:
    too_long = await client.put(f"/v1/studies/{'a' * 49}", json=study_body(), headers=brand.headers())
    assert (too_long.status_code, pointers(too_long)) == (422, ["path:key"])
    broken = await client.put("/v1/studies/rides", content=b"{", headers=brand.headers())
    assert broken.status_code == 400
    forbidden = await client.put("/v1/studies/rides", json=study_body(), headers=brand.headers("export"))
    assert forbidden.status_code == 403


async def test_a_study_does_not_take_over_a_trigger_of_the_brands_own(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await survey_setup(client, brand, key="study-rides-pre")
    await study_setup(client, brand, key="other")
    response = await put_study(client, brand)
    assert (response.status_code, pointers(response)) == (409, ["path:key"])


async def test_a_started_study_keeps_its_code_book_and_surveys(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await study_setup(client, brand)
    await enrolled(client, brand)
    assert (await client.get("/v1/studies/rides", headers=brand.headers())).json()["started_at"] is not None
    changed = await put_study(
        client, brand, diary_days=9, brands={"B": {"name": "Bolt", "own": True}, "U": {"name": "Uber"}}
    )
    assert (changed.status_code, sorted(pointers(changed))) == (409, ["/brands", "/diary_days"])
    renamed = await put_study(client, brand, name="Ride diary (wave 1)", help="Questions? Reply HELP.")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Ride diary (wave 1)"


async def test_enrolment_needs_consent_and_a_phone(client: AsyncTestClient, brand: BrandFixture) -> None:
    await study_setup(client, brand)
    refused = await enrol(client, brand, consent=False)
    assert (refused.status_code, pointers(refused)) == (422, ["/consent"])
    missing = await client.post(
        "/v1/studies/rides/participants", json={"external_id": "p-1", "phone": PHONE}, headers=brand.headers()
    )
    assert (missing.status_code, pointers(missing)) == (422, ["/consent"])
    no_phone = await enrol(client, brand, phone=None)
    assert (no_phone.status_code, pointers(no_phone)) == (422, ["/phone"])
    bad = await enrol(client, brand, phone="12345", time_zone="Mars/Olympus")
    assert (bad.status_code, pointers(bad)) == (422, ["/phone", "/time_zone"])
    unknown = await enrol(client, brand, key="nope")
    assert unknown.status_code == 404
    # Nothing of the refused enrolments was kept.
    assert (await client.get("/v1/customers/p-1", headers=brand.headers())).status_code == 404


async def test_enrolment_records_consent_and_schedules_the_pre_survey_once(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, settings
) -> None:
    await study_setup(client, brand)
    first = await enrol(client, brand, locale="de", time_zone="Europe/Berlin")
    assert first.status_code == 201, first.text
    participant = first.json()
    assert (participant["external_id"], participant["status"]) == ("p-1", "active")
    assert participant["compliance"]["reports"] == 0 and participant["compliance"]["answer_rate"] is None
    customer = (await client.get("/v1/customers/p-1", headers=brand.headers())).json()
    assert (customer["phone"], customer["locale"], customer["consents"]) == (PHONE, "de", {"sms": True})
    consents = await conn.fetch("SELECT channel, granted, source FROM consent_changes")
    assert [tuple(r) for r in consents] == [("sms", True, "study")]

    invitation = await conn.fetchrow(
        """
        SELECT i.invitation_id::text, i.status, i.questionnaire_key, i.preamble, t.key AS trigger, e.source
        FROM invitations i JOIN triggers t USING (brand_id, trigger_id) JOIN events e USING (brand_id, event_id)
        """
    )
    assert (
        invitation["status"],
        invitation["questionnaire_key"],
        invitation["trigger"],
        invitation["source"],
    ) == (
        "scheduled",
        "store_visit_nps",
        "study-rides-pre",
        "study",
    )
    assert invitation["preamble"].startswith("Danke, dass Sie an Ride diary teilnehmen!")
    assert "Marken: B=Bolt, C=Cabco." in invitation["preamble"]
    assert any(invitation["invitation_id"] in job for job in await queued_job_ids(settings))

    again = await enrol(client, brand, phone="+4915199999999")
    assert again.status_code == 200 and again.json()["enrolled_at"] == participant["enrolled_at"]
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 1
    assert await conn.fetchval("SELECT count(*) FROM events") == 1


async def test_the_pre_survey_opens_with_the_welcome_and_is_not_held_by_brand_wide_rules(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, run_worker
) -> None:
    await study_setup(client, brand)
    # The customer was surveyed a minute ago, and the brand allows one survey a week: the study's still goes out.
    # (By link: an SMS conversation still open would send the study's survey as a link too, one at a time.)
    await survey_setup(client, brand, style="link")
    await report(client, brand, event("visit-1", customer="p-1"))
    patched = await client.patch("/v1/brand", json={"survey_gap": "P7D"}, headers=brand.headers("manage"))
    assert patched.status_code == 200
    await run_worker()
    await enrolled(client, brand)
    await run_worker()
    sms = await client.get("/v1/sandbox/messages", headers=brand.headers("manage"))
    bodies = [m["body"] for m in sms.json()["items"]]
    assert len(bodies) == 2
    assert bodies[0].startswith("Thank you for taking part in Ride diary! For the next 7 days, text us a code")
    assert "e.g. BS45. Brands: B=Bolt, C=Cabco. Touchpoints: S=Store, T=TV ad.\n\n" in bodies[0]
    assert "How likely are you to recommend" in bodies[0]


async def test_a_customer_who_opted_out_or_keeps_another_diary_is_not_enrolled(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await study_setup(client, brand)
    await study_setup(client, brand, key="taxis")
    opted_out = await client.put("/v1/customers/p-2", json={"opted_out": True}, headers=brand.headers("manage"))
    assert opted_out.status_code == 200
    refused = await enrol(client, brand, external_id="p-2")
    assert (refused.status_code, pointers(refused)) == (409, ["/external_id"])
    await enrolled(client, brand)
    busy = await enrol(client, brand, key="taxis")
    assert (busy.status_code, pointers(busy)) == (409, ["/external_id"])
    assert "rides" in busy.json()["detail"]


async def test_a_new_participant_with_a_phone_that_texted_stop_is_not_enrolled_until_start(
    client: AsyncTestClient, brand: BrandFixture, run_worker
) -> None:
    await study_setup(client, brand)
    await enrolled(client, brand)
    await run_worker()

    async def reply(text: str) -> str:
        body = {"phone": PHONE, "text": text}
        response = await client.post("/v1/sandbox/replies", json=body, headers=brand.headers("manage"))
        assert response.status_code == 200, response.text
        return response.json()["outcome"]

    assert await reply("STOP") == "stop"
    # Another record of the brand's with the same phone: the phone's STOP holds for it too.
    refused = await enrol(client, brand, external_id="p-2")
    assert (refused.status_code, pointers(refused)) == (409, ["/external_id"])
    assert "STOP" in refused.json()["detail"]
    assert await reply("START") == "start"
    assert (await enrol(client, brand, external_id="p-2")).status_code == 201


async def test_withdrawal_cancels_the_study_surveys_and_is_final(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    await enrolled(client, brand)
    withdrawn = await client.delete("/v1/studies/rides/participants/p-1", headers=brand.headers("manage"))
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert [tuple(r) for r in await conn.fetch("SELECT status, status_reason FROM invitations")] == [
        ("cancelled", "study_withdrawn")
    ]
    again = await client.delete("/v1/studies/rides/participants/p-1", headers=brand.headers("manage"))
    assert again.json()["withdrawn_at"] == withdrawn.json()["withdrawn_at"]
    back = await enrol(client, brand)
    assert (back.status_code, pointers(back)) == (409, ["/external_id"])
    missing = await client.delete("/v1/studies/rides/participants/nobody", headers=brand.headers("manage"))
    assert missing.status_code == 404


async def test_participants_are_listed_in_pages(client: AsyncTestClient, brand: BrandFixture) -> None:
    await study_setup(client, brand)
    for n in range(3):
        await enrolled(client, brand, external_id=f"p-{n}")
    first = (await client.get("/v1/studies/rides/participants?limit=2", headers=brand.headers("export"))).json()
    assert [p["external_id"] for p in first["items"]] == ["p-0", "p-1"]
    rest = await client.get(
        f"/v1/studies/rides/participants?limit=2&cursor={first['next_cursor']}", headers=brand.headers("export")
    )
    assert [p["external_id"] for p in rest.json()["items"]] == ["p-2"] and rest.json()["next_cursor"] is None
    bad = await client.get("/v1/studies/rides/participants?cursor=nonsense", headers=brand.headers())
    assert (bad.status_code, pointers(bad)) == (422, ["query:cursor"])
    assert (await client.get("/v1/studies/nope/participants", headers=brand.headers())).status_code == 404
