"""The end of a diary: reported once by the worker's job, whatever runs it at the same time, and the post-survey
goes out through the study's trigger."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from responses.jobs import close_expired, end_diaries
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import queued_job_ids
from tests.responses.studies import enrolled, move_diary, study_setup


async def test_a_diary_that_ended_schedules_the_post_survey_exactly_once(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx: dict[str, Any],
    settings: Settings,
    run_worker,
) -> None:
    await study_setup(client, brand)
    await enrolled(client, brand, external_id="ended")
    await enrolled(client, brand, external_id="still-keeping", phone="+4915100000002")
    await enrolled(client, brand, external_id="withdrew", phone="+4915100000003")
    await client.delete("/v1/studies/rides/participants/withdrew", headers=brand.headers("manage"))
    await run_worker()  # the pre-surveys go out first (and the worker's own run at start finds no diary ended)
    assert await conn.fetchval("SELECT count(*) FROM events WHERE touchpoint_key = 'study-rides-ended'") == 0
    now = datetime.now(UTC)
    await move_diary(conn, "ended", starts=now - timedelta(days=7, minutes=1), ends=now - timedelta(minutes=1))
    await move_diary(conn, "withdrew", starts=now - timedelta(days=8), ends=now - timedelta(days=1))
    # A week on, the pre-surveys' time is long over: the sweep has closed their SMS conversations, so the
    # post-survey opens one of its own (a customer is in one conversation at a time).
    await conn.execute("UPDATE invitations SET expires_at = $1", now - timedelta(days=6))
    await close_expired(ctx)

    # Two workers' cron jobs at the same moment.
    reported = await asyncio.gather(end_diaries(ctx), end_diaries(ctx))
    assert sorted(reported) == [0, 1]
    assert await end_diaries(ctx) == 0

    ended = await conn.fetch(
        """
        SELECT e.occurred_at, e.source, e.outcome, i.invitation_id::text, i.questionnaire_key, i.preamble, c.external_id
        FROM events e
        JOIN triggers t ON t.brand_id = e.brand_id AND t.trigger_id = e.trigger_id
        JOIN invitations i ON i.brand_id = e.brand_id AND i.invitation_id = e.invitation_id
        JOIN customers c ON c.brand_id = e.brand_id AND c.customer_id = e.customer_id
        WHERE t.key = 'study-rides-post'
        """
    )
    assert len(ended) == 1
    (post,) = ended
    assert (post["external_id"], post["source"], post["outcome"], post["questionnaire_key"]) == (
        "ended",
        "study",
        "scheduled",
        "delivery_csat",
    )
    assert post["preamble"] == "Your diary for Ride diary has ended. Thank you! A few last questions:"
    assert abs(post["occurred_at"] - (now - timedelta(minutes=1))) < timedelta(seconds=1)  # when it ended
    assert any(post["invitation_id"] in job for job in await queued_job_ids(settings))

    await run_worker()
    sent = await conn.fetchval(
        "SELECT body FROM messages WHERE invitation_id = $1::uuid AND provider = 'sandbox'", post["invitation_id"]
    )
    assert sent.startswith(
        "Your diary for Ride diary has ended. Thank you! A few last questions:\n\nDid you receive"
    )
    listed = await client.get("/v1/studies/rides/participants", headers=brand.headers("export"))
    assert {p["external_id"]: p["status"] for p in listed.json()["items"]} == {
        "ended": "ended",
        "still-keeping": "active",
        "withdrew": "withdrawn",
    }


async def test_the_worker_reports_ended_diaries_on_its_own(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, run_worker
) -> None:
    await study_setup(client, brand)
    await enrolled(client, brand)
    now = datetime.now(UTC)
    await move_diary(conn, "p-1", starts=now - timedelta(days=7, minutes=1), ends=now - timedelta(minutes=1))
    await run_worker()  # its cron job runs at start, then the send jobs it queued
    statuses = await conn.fetch(
        "SELECT t.key, i.status FROM invitations i JOIN triggers t USING (brand_id, trigger_id) ORDER BY t.key"
    )
    assert [tuple(r) for r in statuses] == [("study-rides-post", "sent"), ("study-rides-pre", "sent")]
