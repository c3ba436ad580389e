"""A tracking study's statistics against a fixture of known self-reports and consideration answers, worked out by
hand: shares of (positive) experience, positivity per brand × touchpoint, the consideration change and touchpoint
impact, and compliance as the participants list has it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from questionnaires.load import definition_from_obj
from research.stats.methods import t_quantile
from responses.studies.participation import report_ended_diaries
from server.questionnaire_versions import publish
from tests.conftest import BrandFixture
from tests.responses.studies import enrolled, move_diary, study_setup, text

CODES = {
    "p-1": ["BT45", "BT44", "CS21"],
    "p-2": ["BS55", "CT32"],
    "p-3": ["CT41", "CS11"],
    "p-4": ["BT34"],
    "p-5": [],
}
"""Bolt (B, own) and Cabco (C), on TV (T) or in a store (S); positivity, then persuasiveness."""
CONSIDERATION = {"p-1": (5, 8), "p-2": (6, 7), "p-3": (4, 4), "p-4": (7, 9), "p-5": (3, None)}
"""Pre- and post-survey answers (0–10); p-5 has not answered the post-survey."""


def survey(key: str, scale: tuple[int, int] = (0, 10)) -> Any:
    return definition_from_obj(
        {
            "key": key,
            "title": "Ride diary",
            "default_locale": "en",
            "questions": [
                {"id": "consideration", "type": "rating", "min": scale[0], "max": scale[1],
                 "text": "How likely would you choose Bolt for your next ride?"},
                {"id": "why", "type": "text", "required": False, "text": "Why?"},
            ],
        }
    )  # fmt: skip


async def answer(conn: asyncpg.Connection, brand: BrandFixture, invitation_id: UUID, value: int) -> None:
    await conn.execute(
        """
        INSERT INTO answers (brand_id, invitation_id, customer_id, questionnaire_key, questionnaire_version,
                             question_id, value, raw, channel, answered_at)
        SELECT brand_id, invitation_id, customer_id, questionnaire_key, questionnaire_version, 'consideration', $3,
               $4, 'sms', now()
        FROM invitations WHERE brand_id = $1 AND invitation_id = $2
        """,
        brand.brand.brand_id,
        invitation_id,
        value,
        str(value),
    )


async def diary_study(client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection) -> None:
    """Five participants who texted `CODES`, whose diaries ended, with `CONSIDERATION` answered."""
    for key in ("rides_pre", "rides_post"):
        await publish(conn, brand.brand.brand_id, survey(key))
    await study_setup(client, brand, pre_questionnaire="rides_pre", post_questionnaire="rides_post")
    now = datetime.now(UTC)
    for n, (participant, codes) in enumerate(CODES.items()):
        customer = await enrolled(client, brand, participant, phone=f"+491511234567{n}")
        for code in codes:
            await text(conn, brand, customer, code)
        await move_diary(conn, participant, starts=now - timedelta(days=7, hours=1), ends=now - timedelta(hours=1))
    async with conn.transaction():
        ended, _ = await report_ended_diaries(conn, now, 100)
    assert ended == len(CODES)
    surveys = await conn.fetch(
        """
        SELECT c.external_id, i.invitation_id, t.key FROM invitations i
        JOIN triggers t ON t.brand_id = i.brand_id AND t.trigger_id = i.trigger_id
        JOIN customers c ON c.brand_id = i.brand_id AND c.customer_id = i.customer_id
        WHERE i.brand_id = $1
        """,
        brand.brand.brand_id,
    )
    for row in surveys:
        pre, post = CONSIDERATION[row["external_id"]]
        value = pre if row["key"] == "study-rides-pre" else post
        if value is not None:
            await answer(conn, brand, row["invitation_id"], value)


async def study_stats(client: AsyncTestClient, brand: BrandFixture, query: str = "") -> dict:
    response = await client.get(f"/v1/stats/studies/rides{query}", headers=brand.headers("export"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_shares_positivity_and_consideration_worked_out_by_hand(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await diary_study(client, brand, conn)

    body = await study_stats(client, brand)

    assert (body["participants"], body["encounters"]) == (5, 8)
    bolt, cabco = body["brands"]
    # Bolt: BT45, BT44, BS55, BT34 = 4 of 8 encounters; positive (4–5): BT45, BT44, BS55 = 3 of the 4 positive
    # encounters (Cabco's CT41 is the fourth).
    assert (bolt["letter"], bolt["name"], bolt["own"], bolt["encounters"], bolt["positive"]) == (
        "B",
        "Bolt",
        True,
        4,
        3,
    )
    assert (bolt["share_of_experience"], bolt["share_of_positive_experience"]) == (50.0, 75.0)
    assert (cabco["encounters"], cabco["positive"]) == (4, 1)
    assert (cabco["share_of_experience"], cabco["share_of_positive_experience"]) == (50.0, 25.0)
    # Bolt's positivity 4, 4, 5, 3: mean 4, sd √(2/3), t(0.975, 3) = 3.182446.
    half = 3.182446 * math.sqrt(2 / 3) / 2
    assert bolt["positivity"]["value"] == 4.0
    assert bolt["positivity"]["low"] == pytest.approx(4 - half, abs=1e-5)  # 2.70
    assert bolt["positivity"]["high"] == 5.0  # 5.30, cut to the scale

    touchpoints = {(t["brand"], t["touchpoint"]): t for t in body["touchpoints"]}
    assert list(touchpoints) == [("B", "S"), ("B", "T"), ("C", "S"), ("C", "T")]
    bolt_tv = touchpoints["B", "T"]  # BT45, BT44, BT34 by p-1 (two) and p-4
    assert (bolt_tv["touchpoint_key"], bolt_tv["touchpoint_name"]) == ("tv_ad", "TV ad")
    assert (bolt_tv["encounters"], bolt_tv["participants"]) == (3, 2)
    assert bolt_tv["positivity"]["value"] == pytest.approx(11 / 3)
    assert bolt_tv["persuasiveness"]["value"] == pytest.approx(13 / 3)
    assert (touchpoints["C", "S"]["encounters"], touchpoints["C", "S"]["positivity"]["value"]) == (2, 1.5)
    # One encounter: a mean, no interval.
    assert touchpoints["B", "S"]["positivity"] == {
        "value": 5.0,
        "n": 1,
        "low": None,
        "high": None,
        "no_interval": "n < 2",
    }

    # Changes: p-1 +3, p-2 +1, p-3 0, p-4 +2 (p-5 has no post answer): mean 1.5, sd √(5/3), t(0.975, 3).
    consideration = body["consideration"]
    assert (consideration["available"], consideration["scale_min"], consideration["scale_max"]) == (True, 0, 10)
    half = 3.182446 * math.sqrt(5 / 3) / 2
    assert consideration["change"]["n"] == 4
    assert consideration["change"]["value"] == pytest.approx(1.5)
    assert consideration["change"]["low"] == pytest.approx(1.5 - half, abs=1e-5)  # −0.55
    assert consideration["change"]["high"] == pytest.approx(1.5 + half, abs=1e-5)  # 3.55

    # TV: Bolt's TV encounters were reported by p-1 (+3) and p-4 (+2), mean 2.5, sd √0.5; not by p-2 (+1) and p-3
    # (0), mean 0.5, sd √0.5. Difference 2; SE = √(0.5/2 + 0.5/2) = √0.5; Welch's df = 0.5² / (0.25²/1 + 0.25²/1) = 2.
    store, tv = body["impact"]
    assert (tv["touchpoint"], tv["reporters"], tv["others"]) == ("T", 2, 2)
    assert (tv["mean_change_reporters"], tv["mean_change_others"]) == (2.5, 0.5)
    half = t_quantile(2) * math.sqrt(0.5)  # 4.302653 · 0.7071
    assert t_quantile(2) == pytest.approx(4.302653, abs=1e-6)
    assert tv["difference"]["value"] == pytest.approx(2.0)
    assert tv["difference"]["low"] == pytest.approx(2 - half)  # −1.04
    assert tv["difference"]["high"] == pytest.approx(2 + half)  # 5.04
    # Store: only p-2 reported Bolt there (+1), against 5/3 for the three others: a difference, no interval.
    assert (store["touchpoint"], store["reporters"], store["others"]) == ("S", 1, 3)
    assert store["difference"]["value"] == pytest.approx(1 - 5 / 3)
    assert (store["difference"]["low"], store["difference"]["no_interval"]) == (None, "fewer than 2 in a group")

    figures = {p["external_id"]: p for p in body["participant_figures"]}
    assert list(figures) == list(CODES)
    assert [(p["encounters"], p["own_brand_encounters"], p["consideration_change"]) for p in figures.values()] == [
        (3, 2, 3.0),
        (2, 1, 1.0),
        (2, 0, 0.0),
        (1, 1, 2.0),
        (0, 0, None),
    ]
    assert (figures["p-5"]["consideration_pre"], figures["p-5"]["consideration_post"]) == (3.0, None)
    # Compliance is the participants list's own.
    listed = await client.get("/v1/studies/rides/participants", headers=brand.headers("export"))
    assert {p["external_id"]: p["compliance"] for p in listed.json()["items"]} == {
        key: p["compliance"] for key, p in figures.items()
    }
    assert figures["p-1"]["compliance"]["reports"] == 3
    assert "positivity 4–5" in body["methods"]["extra"]["share_of_positive_experience"]


async def test_without_a_consideration_question_the_change_is_null_with_the_reason(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await diary_study(client, brand, conn)

    body = await study_stats(client, brand, "?consideration=loyalty")

    assert body["consideration"]["available"] is False
    assert body["consideration"]["note"] == "rides_pre has no scale question 'loyalty'"
    assert body["consideration"]["change"]["value"] is None
    assert all(i["difference"]["value"] is None for i in body["impact"])
    assert body["brands"][0]["share_of_experience"] == 50.0  # the rest stands

    await publish(conn, brand.brand.brand_id, survey("rides_post", scale=(1, 5)))
    mixed = (await study_stats(client, brand))["consideration"]
    assert mixed["available"] is False
    assert (
        mixed["note"] == "'consideration' is not asked on one scale in the pre- and post-survey: [(0, 10), (1, 5)]"
    )


async def test_a_study_without_reports(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    body = await study_stats(client, brand)
    assert (body["participants"], body["encounters"], body["touchpoints"], body["participant_figures"]) == (
        0,
        0,
        [],
        [],
    )
    assert [(b["letter"], b["encounters"], b["share_of_experience"]) for b in body["brands"]] == [
        ("B", 0, None),
        ("C", 0, None),
    ]
    assert body["consideration"]["note"] == "store_visit_nps has no scale question 'consideration'"


async def test_unknown_study_and_bad_parameters(client: AsyncTestClient, brand: BrandFixture) -> None:
    assert (await client.get("/v1/stats/studies/nope", headers=brand.headers("export"))).status_code == 404
    bad = await client.get("/v1/stats/studies/rides?consideration=Not%20an%20id", headers=brand.headers("export"))
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["query:consideration"]
    assert (await client.get("/v1/stats/studies/rides", headers=brand.headers("ingest"))).status_code == 403
