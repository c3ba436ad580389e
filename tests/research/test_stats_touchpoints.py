"""Touchpoint figures against values worked out by hand on small fixtures: NPS and its interval, rating means,
top-two-box shares, minutes to answer, counts and the reasons nothing was sent, empty buckets and small samples,
buckets in a time zone, and the groupings by trigger and questionnaire."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from questionnaires import scores
from research.stats import touchpoints
from research.stats.methods import Z
from research.stats.query import stats_query
from server.questionnaire_versions import publish
from tests.conftest import BrandFixture
from tests.helpers import put_touchpoint, put_trigger, survey_setup
from tests.research.stats_factories import contact
from tests.responses.factories import definition

DAY = datetime(2026, 3, 10, tzinfo=UTC)
"""A Tuesday."""


async def stats(client: AsyncTestClient, brand: BrandFixture, path: str = "touchpoints", **params: Any) -> dict:
    query = {"from": "2026-03-10T00:00:00Z", "to": "2026-03-11T00:00:00Z"} | params
    response = await client.get(f"/v1/stats/{path}", params=query, headers=brand.headers("export"))
    assert response.status_code == 200, response.text
    return response.json()


def group(body: dict, key: str) -> dict:
    (found,) = [g for g in body["groups"] if g["key"] == key]
    return found


def question(figures: dict, question_id: str) -> dict:
    (found,) = [q for q in figures["scores"] if q["question"] == question_id]
    return found


async def deliveries_setup(client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection) -> None:
    """Besides store visits (NPS), deliveries surveyed with every question type (trigger ``after_delivery``)."""
    await publish(conn, brand.brand.brand_id, definition("every_type"))
    await put_touchpoint(client, brand, "delivery")
    await put_trigger(client, brand, key="after_delivery", touchpoint="delivery", questionnaire="every_type")


async def test_nps_and_its_interval_worked_out_by_hand(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    answers = [10, 10, 9, 9, 9, 8, 7, 6, 3, 0]
    for i, score in enumerate(answers):
        await contact(conn, brand, DAY + timedelta(hours=9, minutes=i), answers={"nps": score}, completed=1)

    body = await stats(client, brand)

    # 5 promoters (9–10), 2 passives, 3 detractors (0–6) of n = 10.
    p, q, n = 5 / 10, 3 / 10, 10
    nps = 100 * (p - q)  # 20 points
    variance = (p + q - (p - q) ** 2) / n  # (0.5 + 0.3 − 0.04) / 10 = 0.076
    half = Z * math.sqrt(variance) * 100  # 1.959964 · 0.275681 · 100 = 54.03
    for figures in (body["overall"]["total"], group(body, "store_visit")["total"], body["overall"]["buckets"][0]):
        assert figures["nps"]["n"] == 10
        assert figures["nps"]["value"] == pytest.approx(20.0)
        assert figures["nps"]["low"] == pytest.approx(nps - half)  # −34.03
        assert figures["nps"]["high"] == pytest.approx(nps + half)  # 74.03
        assert figures["nps"]["no_interval"] is None
    assert group(body, "store_visit")["name"] == "Store Visit"
    # The database agrees with the score definitions the rest of lxt uses.
    summary = scores.summarize(definition("store_visit_nps").questions[0], answers)
    assert body["overall"]["total"]["nps"]["value"] == pytest.approx(summary.nps)
    assert question(body["overall"]["total"], "nps")["mean"]["value"] == pytest.approx(summary.mean)
    assert "normal approximation" in body["methods"]["nps"]


async def test_rating_means_and_top_two_box_worked_out_by_hand(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    await deliveries_setup(client, brand, conn)
    stars, moods, efforts = [5, 4, 4, 3, 5], [5, 4, 4, 2, 1], [7, 6, None, None, None]
    for i in range(5):
        answers = {"stars": stars[i], "mood": moods[i], "effort": efforts[i], "again": True}
        await contact(conn, brand, DAY + timedelta(hours=12, minutes=i), trigger="after_delivery", answers=answers)

    figures = group(await stats(client, brand), "delivery")["total"]

    # Stars (rating 1–5): mean 4.2; sd = √((0.64 + 0.04 + 0.04 + 1.44 + 0.64) / 4) = √0.7; t(0.975, 4) = 2.776445.
    rating = question(figures, "stars")
    half = 2.776445 * math.sqrt(0.7) / math.sqrt(5)  # 1.0388
    assert (rating["type"], rating["display"], rating["scale_min"], rating["scale_max"]) == (
        "rating",
        "stars",
        1,
        5,
    )
    assert rating["mean"]["value"] == pytest.approx(4.2)
    assert rating["mean"]["low"] == pytest.approx(4.2 - half, abs=1e-5)  # 3.1612
    assert rating["mean"]["high"] == 5.0  # 5.2388, cut to the top of the scale
    # Top-two-box of the stars: 4 of 5 answers are 4–5.
    assert rating["top_two_box"]["value"] == pytest.approx(80.0)
    assert rating["nps"] is None

    # CSAT (1–5 faces): 3 of 5 answers are 4–5, 60%, with the Wilson interval:
    # centre = (0.6 + z²/10) / (1 + z²/5), half = z / (1 + z²/5) · √(0.6 · 0.4 / 5 + z²/100).
    z2 = Z * Z
    centre = (0.6 + z2 / 10) / (1 + z2 / 5)  # 0.5566
    wilson = Z / (1 + z2 / 5) * math.sqrt(0.6 * 0.4 / 5 + z2 / 100)  # 0.3258
    assert figures["csat"]["n"] == 5
    assert figures["csat"]["value"] == pytest.approx(60.0)
    assert figures["csat"]["low"] == pytest.approx(100 * (centre - wilson))  # 23.07
    assert figures["csat"]["high"] == pytest.approx(100 * (centre + wilson))  # 88.24
    assert question(figures, "mood")["top_two_box"] == figures["csat"]

    # CES (1–7): the skipped answers (null) are not responses; n = 2, mean 6.5, sd = √0.5, t(0.975, 1) = 12.706205,
    # so the interval 6.5 ± 6.353 is cut to the scale, 1–7; no top-two-box for CES.
    effort = question(figures, "effort")
    assert (effort["mean"]["n"], effort["mean"]["value"]) == (2, pytest.approx(6.5))
    assert (effort["mean"]["low"], effort["mean"]["high"]) == (1.0, 7.0)
    assert effort["top_two_box"] is None
    # Yes/no answers are no score; the NPS question, unanswered here, is not listed.
    assert {q["question"] for q in figures["scores"]} == {"stars", "mood", "effort"}
    # The same figures from questionnaires.scores.
    every_type = {q.id: q for q in definition("every_type").questions}
    assert rating["top_two_box"]["value"] == pytest.approx(
        scores.summarize(every_type["stars"], stars).top_two_box
    )
    assert figures["csat"]["value"] == pytest.approx(scores.summarize(every_type["mood"], moods).top_two_box)


async def test_minutes_from_contact_to_answer_worked_out_by_hand(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    for first, done in ((1, 2), (2, 5), (3, 6), (4, 30), (10, None)):
        await contact(
            conn, brand, DAY + timedelta(hours=8), answers={"nps": 9}, first_answer=first, completed=done
        )
    await contact(conn, brand, DAY + timedelta(hours=8))  # sent, never answered: in neither

    total = (await stats(client, brand))["overall"]["total"]

    # First answers 1, 2, 3, 4, 10: median 3; p90 at rank 0.9 · (5 − 1) = 3.6 (from 0), 4 + 0.6 · (10 − 4) = 7.6.
    assert total["to_first_answer"] == {"n": 5, "median": pytest.approx(3.0), "p90": pytest.approx(7.6)}
    # Completions 2, 5, 6, 30: median (5 + 6) / 2 = 5.5; p90 at rank 0.9 · 3 = 2.7, 6 + 0.7 · (30 − 6) = 22.8.
    assert total["to_completion"] == {"n": 4, "median": pytest.approx(5.5), "p90": pytest.approx(22.8)}
    assert (total["started"], total["responses"], total["sends"]) == (5, 4, 6)


async def test_counts_response_rate_and_why_not_surveyed(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    at = DAY + timedelta(hours=10)
    for reason in ("sampled_out", "sampled_out", "frequency_capped"):
        await contact(conn, brand, at, not_surveyed=reason)
    await contact(conn, brand, at, status="suppressed", status_reason="opted_out")
    await contact(conn, brand, at, status="suppressed", status_reason="opted_out")
    await contact(conn, brand, at, status="failed", status_reason="30003")
    await contact(conn, brand, at, status="cancelled", status_reason="trigger_deactivated")
    await contact(conn, brand, at, status="scheduled")
    await contact(conn, brand, at, delivered=True, answers={"nps": 10}, completed=4)
    await contact(conn, brand, at, delivered=True, answers={"nps": 8}, completed=6)
    await contact(conn, brand, at, delivered=True, answers={"nps": 2}, first_answer=3)  # started, not completed
    await contact(conn, brand, at)  # sent, no delivery receipt, no answer

    body = await stats(client, brand)

    total = body["overall"]["total"]
    counts = {k: total[k] for k in ("events", "invitations", "sends", "deliveries", "started", "responses")}
    assert counts == {"events": 12, "invitations": 9, "sends": 4, "deliveries": 3, "started": 3, "responses": 2}
    # Response rate: 2 completed of 4 sent; Wilson with n = 4: (0.5 + z²/8 ± z √(0.25/4 + z²/64)) / (1 + z²/4).
    z2 = Z * Z
    centre, half = 0.5, Z / (1 + z2 / 4) * math.sqrt(0.25 / 4 + z2 / 64)
    assert total["response_rate"]["value"] == pytest.approx(50.0)
    assert total["response_rate"]["low"] == pytest.approx(100 * (centre - half))  # 15.00
    assert total["response_rate"]["high"] == pytest.approx(100 * (centre + half))  # 85.00
    assert total["not_surveyed"] == [
        {"reason": "sampled_out", "count": 2},
        {"reason": "frequency_capped", "count": 1},
    ]
    assert total["unsent"] == [
        {"status": "suppressed", "reason": "opted_out", "count": 2},
        {"status": "cancelled", "reason": "trigger_deactivated", "count": 1},
        {"status": "failed", "reason": "30003", "count": 1},
    ]
    assert group(body, "store_visit")["total"] == total
    assert body["overall"]["buckets"][0]["not_surveyed"] == total["not_surveyed"]


async def test_empty_buckets_have_zero_counts_and_small_samples_no_interval(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    for score in (10, 9, 3):
        await contact(conn, brand, DAY + timedelta(hours=9), answers={"nps": score}, completed=2)

    body = await stats(client, brand, **{"from": "2026-03-09T00:00:00Z", "to": "2026-03-12T00:00:00Z"})

    for figures in (body["overall"], group(body, "store_visit")):
        first, middle, last = figures["buckets"]
        assert [b["start"] for b in figures["buckets"]] == [
            "2026-03-09T00:00:00Z",
            "2026-03-10T00:00:00Z",
            "2026-03-11T00:00:00Z",
        ]
        for empty in (first, last):
            assert (empty["events"], empty["sends"], empty["responses"]) == (0, 0, 0)
            assert empty["nps"] == {"value": None, "n": 0, "low": None, "high": None, "no_interval": "n = 0"}
            assert empty["response_rate"]["value"] is None
            assert empty["to_first_answer"] == {"n": 0, "median": None, "p90": None}
            # The group's questions are listed in every bucket, with nothing to score.
            assert [(q["question"], q["mean"]["n"], q["mean"]["value"]) for q in empty["scores"]] == [
                ("nps", 0, None)
            ]
        # 2 promoters, 1 detractor: NPS 33.3, but n = 3 is below the normal approximation's minimum of 10.
        assert middle["nps"] == {
            "value": pytest.approx(100 / 3),
            "n": 3,
            "low": None,
            "high": None,
            "no_interval": "n < 10",
        }
    assert "n < 10" in body["methods"]["nps"]

    nothing = await stats(client, brand, **{"from": "2025-01-01T00:00:00Z", "to": "2025-01-03T00:00:00Z"})
    assert nothing["groups"] == []
    assert [b["events"] for b in nothing["overall"]["buckets"]] == [0, 0]
    assert nothing["overall"]["total"]["nps"]["value"] is None


async def test_buckets_are_days_and_weeks_of_the_time_zone(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    await contact(conn, brand, datetime(2026, 3, 10, 23, 30, tzinfo=UTC))  # 00:30 on the 11th in Berlin
    await contact(conn, brand, datetime(2026, 3, 29, 12, tzinfo=UTC))  # the day Berlin's clocks go forward

    berlin = await stats(
        client,
        brand,
        **{"from": "2026-03-10T00:00:00+01:00", "to": "2026-03-12T00:00:00+01:00", "tz": "Europe/Berlin"},
    )
    assert [(b["start"], b["events"]) for b in berlin["overall"]["buckets"]] == [
        ("2026-03-09T23:00:00Z", 0),
        ("2026-03-10T23:00:00Z", 1),
    ]
    utc = await stats(client, brand, **{"from": "2026-03-10T00:00:00Z", "to": "2026-03-12T00:00:00Z"})
    assert [b["events"] for b in utc["overall"]["buckets"]] == [1, 0]

    # The 29th of March in Berlin has 23 hours.
    spring = await stats(
        client,
        brand,
        **{"from": "2026-03-29T00:00:00+01:00", "to": "2026-03-30T00:00:00+02:00", "tz": "Europe/Berlin"},
    )
    (day,) = spring["overall"]["buckets"]
    assert (day["start"], day["end"], day["events"]) == ("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", 1)

    # ISO weeks, Monday first; the first and last are cut to the range (Wednesday the 11th to Wednesday the 25th).
    weeks = await stats(
        client, brand, **{"from": "2026-03-11T00:00:00Z", "to": "2026-03-25T00:00:00Z", "bucket": "week"}
    )
    assert [(b["start"], b["end"]) for b in weeks["overall"]["buckets"]] == [
        ("2026-03-11T00:00:00Z", "2026-03-16T00:00:00Z"),
        ("2026-03-16T00:00:00Z", "2026-03-23T00:00:00Z"),
        ("2026-03-23T00:00:00Z", "2026-03-25T00:00:00Z"),
    ]


async def test_figures_by_trigger_and_by_questionnaire_version_with_filters(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand)
    await deliveries_setup(client, brand, conn)
    at = DAY + timedelta(hours=9)
    await contact(conn, brand, at, answers={"nps": 9}, completed=2)
    await contact(conn, brand, at, not_surveyed="sampled_out")
    for _ in range(2):
        await contact(conn, brand, at, trigger="after_delivery", answers={"stars": 4}, completed=3)
    await conn.execute("INSERT INTO events (brand_id, event_id, idempotency_key, touchpoint_key, touchpoint_known, "
                       "customer_id, occurred_at, received_at, outcome, reason) "
                       "SELECT $1, gen_random_uuid(), 'no-trigger', 'kiosk', false, gen_random_uuid(), $2, $2, "
                       "'not_surveyed', 'unknown_touchpoint'", brand.brand.brand_id, at)  # fmt: skip

    by_trigger = await stats(client, brand, "triggers")
    assert [(g["key"], g["name"], g["total"]["events"]) for g in by_trigger["groups"]] == [
        ("after_delivery", "NPS after a store visit", 2),  # put_trigger's default name
        ("after_visit", "NPS after a store visit", 2),
    ]
    # The event no trigger decided counts overall only.
    assert by_trigger["overall"]["total"]["events"] == 5
    assert by_trigger["overall"]["total"]["not_surveyed"] == [
        {"reason": "sampled_out", "count": 1},
        {"reason": "unknown_touchpoint", "count": 1},
    ]

    by_questionnaire = await stats(client, brand, "questionnaires")
    assert [(g["key"], g["version"], g["name"], g["total"]["responses"]) for g in by_questionnaire["groups"]] == [
        ("every_type", 1, "Your delivery", 2),
        ("store_visit_nps", 1, "Your visit today", 1),
    ]
    assert question(group(by_questionnaire, "every_type")["total"], "stars")["mean"]["value"] == 4.0

    by_touchpoint = await stats(client, brand)
    assert [g["key"] for g in by_touchpoint["groups"]] == ["delivery", "kiosk", "store_visit"]
    only = await stats(client, brand, touchpoint="delivery")
    assert [g["key"] for g in only["groups"]] == ["delivery"]
    assert only["overall"]["total"]["events"] == 2
    assert (await stats(client, brand, trigger="after_visit"))["overall"]["total"]["events"] == 2
    assert (await stats(client, brand, questionnaire="every_type"))["overall"]["total"]["responses"] == 2
    assert (await stats(client, brand, trigger="nonexistent"))["overall"]["total"]["events"] == 0


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("bucket=month", "query:bucket"),
        ("tz=Mars/Olympus", "query:tz"),
        ("tz=localtime", "query:tz"),
        ("from=yesterday", "query:from"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "query:to"),
        ("from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "query:to"),
        ("from=2025-01-01T00:00:00Z&to=2026-02-06T00:00:00Z", "query:bucket"),  # 401 days
        ("from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&bucket=week", "query:from"),
        ("from=0001-01-01T00:00:00Z&tz=America/New_York", "query:from"),
        ("from=9999-12-31T00:00:00Z", "query:from"),  # 28 days from it leave the calendar
        ("to=0001-01-02T00:00:00Z", "query:to"),  # and so do 28 days before it
        ("from=0001-01-01T00:00:00Z&to=0001-01-10T00:00:00Z", "query:from"),  # before 1900
        ("from=1899-12-31T23:59:59Z&to=1900-01-10T00:00:00Z&bucket=week", "query:from"),
        ("touchpoint=Not%20a%20key", "query:touchpoint"),
    ],
)
async def test_bad_parameters_are_named(
    client: AsyncTestClient, brand: BrandFixture, query: str, pointer: str
) -> None:
    for path in ("touchpoints", "triggers", "questionnaires"):
        response = await client.get(f"/v1/stats/{path}?{query}", headers=brand.headers("export"))
        assert response.status_code == 422, response.text
        assert [e["pointer"] for e in response.json()["errors"]] == [pointer]


@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-01T00:00:00Z&to=9999-12-31T23:59:59Z",
        "from=9999-12-01T00:00:00Z&to=9999-12-31T23:59:59Z&bucket=week&tz=Pacific/Kiritimati",
        "to=9999-12-31T23:59:59Z",
        "from=1900-01-01T00:00:00Z&tz=Pacific/Kiritimati",
    ],
)
async def test_ranges_at_the_ends_of_the_calendar_are_answered_or_refused(
    client: AsyncTestClient, brand: BrandFixture, query: str
) -> None:
    for path in ("touchpoints", "triggers", "questionnaires"):
        response = await client.get(f"/v1/stats/{path}?{query}", headers=brand.headers("export"))
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            assert [e["pointer"] for e in response.json()["errors"]] in (["query:from"], ["query:to"])


async def test_the_longest_ranges_allowed(client: AsyncTestClient, brand: BrandFixture) -> None:
    days = await stats(client, brand, **{"from": "2025-01-01T00:00:00Z", "to": "2026-02-05T00:00:00Z"})
    assert len(days["overall"]["buckets"]) == 400
    default = await client.get("/v1/stats/touchpoints", headers=brand.headers("manage"))
    assert default.status_code == 200
    body = default.json()
    assert datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"]) == timedelta(days=28)
    assert len(body["overall"]["buckets"]) == 29  # 28 days from a time of day touch 29 calendar days


async def test_statistics_need_the_manage_or_export_scope(client: AsyncTestClient, brand: BrandFixture) -> None:
    for path in ("touchpoints", "triggers", "questionnaires"):
        assert (await client.get(f"/v1/stats/{path}", headers=brand.headers("ingest"))).status_code == 403
        assert (await client.get(f"/v1/stats/{path}")).status_code == 401


async def test_the_figures_are_planned_for_their_brand_and_range_every_time(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    """A connection keeps its prepared statements; from the sixth run PostgreSQL would plan them without looking at
    the brand and range, and read far more."""
    await survey_setup(client, brand)
    await contact(conn, brand, DAY + timedelta(hours=9), answers={"nps": 9}, completed=1)
    query = stats_query("touchpoint", start=DAY, end=DAY + timedelta(days=1), bucket="day", tz="UTC", now=DAY)
    for _ in range(8):
        figures = await touchpoints.stats(conn, brand.brand.brand_id, query)
        assert figures.overall.total.events == 1
    plans = await conn.fetch(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE statement LIKE '%contacts AS (%' AND statement NOT LIKE '%pg_prepared_statements%'"
    )
    assert len(plans) == 2  # the counts and the scores
    assert [(p["generic_plans"], p["custom_plans"]) for p in plans] == [(0, 8), (0, 8)]
