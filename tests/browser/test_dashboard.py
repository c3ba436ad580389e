"""The research dashboard in a real browser, on a desktop's screen and a phone's: a researcher signs in with an
export key, reads a month of touchpoint figures (worked out by hand below) in the table and the charts, opens a
customer's timeline and signs out; keys that may not, or may no longer, sign in; axe-core's rules on every kind
of page; and no console error or refused style anywhere (`watched`).

``LXT_TEST_SHOTS=DIR`` saves a screenshot of each kind of page at both widths there, to look at.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.questionnaire_versions import publish
from server.settings import Settings
from tests.browser.conftest import PHONE
from tests.browser.test_survey_in_a_browser import watched
from tests.conftest import BrandFixture
from tests.fakes.twilio import FakeTwilio
from tests.helpers import put_touchpoint, put_trigger
from tests.research.stats_factories import contact
from tests.research.test_timeline import LIKED_DE, NPS_DE, visited_surveyed_and_stopped
from tests.responses.factories import definition
from tests.responses.texting import with_twilio

pytestmark = pytest.mark.timeout(120)

SHOTS = os.environ.get("LXT_TEST_SHOTS")
if SHOTS:
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
DESKTOP = {"width": 1280, "height": 900}
NONE = "—"
MONTH = "from=2026-03-02&to=2026-03-29&bucket=week"
"""Four ISO weeks, Monday 2 March to Sunday 29 March 2026."""
WEEK = [datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(weeks=n) for n in range(4)]

VISIT_SCORES = [
    [10, 10, 9, 9, 9, 8, 7, 6, 3, 0, 10, 9],  # 7 promoters, 3 detractors of 12: NPS 33, with an interval
    [10, 6],  # n = 2: NPS 0, too few for an interval
    [10, 9, 9, 8, 8, 7, 6, 5, 10, 10],  # 5 and 2 of 10: 30
    [9, 9, 10, 4, 3, 8, 10, 2],  # 4 and 3 of 8: 12, too few for an interval
]
"""Store visits answered, by week: 17 promoters and 9 detractors of 32 in all, NPS 25."""
DELIVERY_ANSWERS = [[(10, 5), (9, 4), (7, 2)], [], [(3, 1), (10, 5)], []]
"""Deliveries answered (NPS, CSAT 1–5), by week: 3 promoters and 1 detractor of 5, NPS 40, too few for an
interval; CSAT top-two-box (4–5) 3 of 5, 60%."""


@pytest.fixture
def settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return with_twilio(settings, fake_twilio)


@pytest_asyncio.fixture(loop_scope="session")
async def research_month(
    settings: Settings, conn: asyncpg.Connection, brand: BrandFixture, run_worker: Any, fake_twilio: FakeTwilio
) -> None:
    """Customer c-1's store visit today, surveyed by text to the end (for the timeline), and March 2026's store
    visits and deliveries with known outcomes (for the figures)."""
    async with AsyncTestClient(create_app(settings), base_url="http://lxt.test") as api:
        await visited_surveyed_and_stopped(api, brand, run_worker, fake_twilio)
        await publish(conn, brand.brand.brand_id, definition("every_type"))
        await put_touchpoint(api, brand, "delivery")
        await put_trigger(api, brand, key="after_delivery", touchpoint="delivery", questionnaire="every_type")
    for week, scores in zip(WEEK, VISIT_SCORES, strict=True):
        for minute, score in enumerate(scores):
            at = week + timedelta(minutes=minute)
            await contact(conn, brand, at, answers={"nps": score}, delivered=True, first_answer=3, completed=4)
    for week, answers in zip(WEEK, DELIVERY_ANSWERS, strict=True):
        for hour, (nps, mood) in enumerate(answers):
            at = week + timedelta(hours=hour + 1)
            await contact(
                conn, brand, at, trigger="after_delivery", answers={"nps": nps, "mood": mood}, completed=90
            )
    for n in range(5):  # sent and delivered, never answered
        await contact(conn, brand, WEEK[n % 4] + timedelta(hours=5, minutes=n), delivered=True)
    for n, reason in enumerate(["frequency_capped"] * 4 + ["no_reachable_channel"] * 2):
        await contact(conn, brand, WEEK[n % 4] + timedelta(hours=6, minutes=n), not_surveyed=reason)


async def shoot(page: Any, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / f"dashboard-{name}.png"), full_page=True)


async def sign_in(page: Any, base: str, key: str) -> None:
    await page.goto(f"{base}/dashboard/login")
    await page.get_by_label("API key").fill(key)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in").click()


async def violations(axe: Any, page: Any) -> list[str]:
    """What axe-core finds wrong with the page, and where."""
    found = (await axe.run(page, options={"resultTypes": ["violations"]})).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}" for v in found]


async def cells(page: Any, row: Any) -> list[str]:
    """A table row's cells as shown, each cell's first line (its figure, without the interval under it)."""
    return [text.split("\n")[0] for text in await row.locator("th, td").all_inner_texts()]


async def test_a_researcher_reads_the_figures_opens_a_timeline_and_signs_out(
    browser: Any, live_server: str, research_month: None, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    async with watched(await browser.new_context(viewport=DESKTOP)) as page:
        await sign_in(page, live_server, brand.keys["export"])
        assert page.url == f"{live_server}/dashboard"
        await page.goto(f"{live_server}/dashboard/?{MONTH}")  # moved to its address, where its links work
        assert page.url == f"{live_server}/dashboard?{MONTH}"
        assert await page.locator("h1").inner_text() == "Touchpoints"
        rows = page.locator("table.figures tbody tr")
        # Store visits: 32 answered, 5 unanswered and 6 not surveyed; deliveries: 5 answered. All delivered.
        assert await cells(page, rows.nth(0)) == [
            "Delivery", "5", "5", "5", "0", "5", "100.0%", "40", "60.0%", "90", "90",
        ]  # fmt: skip
        assert await cells(page, rows.nth(1)) == [
            "Store Visit", "43", "37", "37", "37", "32", "86.5%", "25", NONE, "3.0", "3.0",
        ]  # fmt: skip
        total = await cells(page, page.locator("table.figures tfoot tr"))
        # 20 promoters and 10 detractors of 37; 32 answers 3 minutes after the contact, 5 after 90.
        assert total == ["All touchpoints", "48", "42", "42", "37", "37", "88.1%", "27", "60.0%", "3.0", "90"]
        # An interval is shown under its figure: NPS 25 ± 1.96·√((17/32 + 9/32 − (8/32)²)/32)·100 = 25 ± 30.
        assert await rows.nth(1).locator("td").nth(6).inner_text() == "25\n-5 to 55"
        assert await rows.nth(0).locator("td").nth(6).inner_text() == "40\nno CI"  # n = 5

        charts = page.locator("svg[role=img]")
        titles = [await charts.nth(n).locator("title").text_content() for n in range(await charts.count())]
        assert titles == [
            "NPS by week at All touchpoints, with its 95% confidence interval",
            "NPS by week at Delivery, with its 95% confidence interval",
            "NPS by week at Store Visit, with its 95% confidence interval",
            "Minutes from contact to first answer",
            "Why events were not surveyed",
        ]
        visits = charts.nth(2)
        assert await visits.locator("circle[class=point]").count() == 2  # weeks 1 and 3 have intervals …
        assert await visits.locator("circle.no-ci").count() == 2  # … weeks 2 and 4 too few answers
        # Every chart's figures are in a table too.
        await page.get_by_text("Events not surveyed by reason as a table").click()
        reasons = page.locator("details.numbers[open] tbody tr")
        assert [await cells(page, reasons.nth(n)) for n in range(await reasons.count())] == [
            ["frequency capped", "4"],
            ["no reachable channel", "2"],
        ]

        await page.get_by_label("Customer id").fill("c-1")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Open").click()
        assert page.url == f"{live_server}/dashboard/customers/c-1?tz=UTC"
        assert await page.locator("h1").inner_text() == "Customer c-1"
        answers = page.locator("li.kind-answer .heading")
        assert await answers.all_inner_texts() == [NPS_DE, LIKED_DE]
        values = page.locator("li.kind-answer .answer")
        assert [await values.nth(n).text_content() for n in range(2)] == [
            "Answer: 9",
            "Answer: Freundliches Personal",
        ]
        badges = await page.locator(".badge").all_inner_texts()
        assert badges[:4] == ["Event", "Consent", "Decision", "Invitation"] and badges[-1] == "Consent"

        async with page.expect_navigation():
            await page.get_by_role("button", name="Sign out").click()
        assert page.url == f"{live_server}/dashboard/login"
        await page.goto(f"{live_server}/dashboard")
        assert page.url == f"{live_server}/dashboard/login"
    assert await conn.fetchval("SELECT count(*) FROM dashboard_sessions") == 0


async def test_a_manage_key_is_refused_and_a_revoked_keys_session_ends(
    browser: Any, live_server: str, brand: BrandFixture
) -> None:
    async with watched(await browser.new_context(viewport=PHONE)) as page:
        await sign_in(page, live_server, brand.keys["manage"])
        assert page.url == f"{live_server}/dashboard/login"
        assert await page.get_by_role("alert").text_content() == (
            "Error: This key cannot open the dashboard: it needs the export scope."
        )
        await sign_in(page, live_server, brand.keys["export"])
        assert await page.locator("h1").inner_text() == "Touchpoints"
        async with httpx.AsyncClient(base_url=live_server) as api:
            prefix = brand.keys["export"].split("_")[1]
            revoked = await api.delete(f"/v1/keys/{prefix}", headers=brand.headers("manage"))
            assert revoked.status_code in (200, 204), revoked.text
        await page.reload()
        assert page.url == f"{live_server}/dashboard/login"


async def test_every_kind_of_dashboard_page_passes_axe_at_both_widths(
    browser: Any, live_server: str, research_month: None, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    from axe_playwright_python.async_playwright import Axe

    axe = Axe()
    found: dict[str, list[str]] = {}
    pages = {
        "login": None,
        "data": f"/dashboard?{MONTH}",
        "empty": "/dashboard?from=2026-01-01&to=2026-01-31",
        "invalid": "/dashboard?from=2026-03-02&to=2026-02-01&tz=Mars",
        "timeline": "/dashboard/customers/c-1?tz=Europe/Berlin",
        "unknown": "/dashboard/customers/nobody",
    }
    for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        async with watched(await browser.new_context(viewport=viewport)) as page:
            for name, path in pages.items():
                if path is None:
                    await page.goto(f"{live_server}/dashboard/login")
                else:
                    await page.goto(live_server + path)
                found[f"{name}-{width}"] = await violations(axe, page)
                if name == "empty":
                    assert await page.locator("#empty").inner_text() == "No data in this range"
                    assert await page.locator("svg").count() == 0
                await shoot(page, f"{name}-{width}")
                if name == "login":
                    await sign_in(page, live_server, brand.keys["export"] + "x")  # wrong: the page with its error
                    found[f"login-error-{width}"] = await violations(axe, page)
                    await shoot(page, f"login-error-{width}")
                    await sign_in(page, live_server, brand.keys["export"])
            # Nothing is wider than the screen but the table, which scrolls in its own box.
            await page.goto(f"{live_server}/dashboard?{MONTH}")
            assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert len(found) == 14
    assert {name: violations for name, violations in found.items() if violations} == {}
