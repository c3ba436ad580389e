"""The web survey in a real browser on a small phone's screen (360×740): every question type answered by tapping
and typing, a reload and a return mid-way, Back to change an answer, the thanks; the same without JavaScript; and
axe-core's accessibility rules on every kind of page.

``LXT_TEST_SHOTS=DIR`` saves a screenshot of each kind of page there, to look at.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import pytest_asyncio

from tests.browser.conftest import PHONE
from tests.conftest import BrandFixture
from tests.responses.factories import sent_invitation

pytestmark = pytest.mark.timeout(120)

SHOTS = os.environ.get("LXT_TEST_SHOTS")
if SHOTS:
    Path(SHOTS).mkdir(parents=True, exist_ok=True)


@pytest_asyncio.fixture(loop_scope="session")
async def phone(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser context with a phone's viewport and JavaScript on; fails the test on any CSP report."""
    async with watched(await browser.new_context(viewport=PHONE, device_scale_factor=2)) as page:
        yield page


class watched:
    """A page of `context` whose errors must be none when the test ends: what the console reports (a script or
    style the Content-Security-Policy refused, a script error) and stylesheets or scripts that failed to load."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.errors: list[str] = []

    async def __aenter__(self) -> Any:
        page = await self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("response", self._response)
        page.set_default_timeout(10_000)
        return page

    def _console(self, message: Any) -> None:
        # A page's own status (422 for an invalid answer, 404, 410) is reported as a failed load: no error here.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        if "/static/" in response.url and response.status != 200:
            self.errors.append(f"{response.url}: {response.status}")

    async def __aexit__(self, *exc: object) -> None:
        await self.context.close()
        assert self.errors == []


async def submit(page: Any, button: str = "Next") -> None:
    """Press a form button and wait for the page it leads to (the 303 after an answer, and its GET)."""
    async with page.expect_navigation():
        await page.get_by_role("button", name=button, exact=True).click()


async def asked(page: Any) -> str:
    """The question the page shows."""
    return (await page.locator(".question").first.inner_text()).removesuffix(" (optional)").strip()


async def shoot(page: Any, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


async def stored(conn: asyncpg.Connection, invitation_id: object) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT question_id, value::text FROM answers WHERE invitation_id = $1 AND replaced_at IS NULL",
        invitation_id,
    )
    return {r["question_id"]: msgspec.json.decode(r["value"]) for r in rows}


async def test_a_customer_answers_every_type_comes_back_changes_an_answer_and_is_thanked(
    phone: Any, live_server: str, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    link = f"{live_server}/s/{sent.token}"
    await phone.goto(link)
    assert await phone.locator("h1").inner_text() == "Your delivery"
    assert await asked(phone) == "How likely are you to recommend us to a friend?"
    assert await phone.locator("#progress").inner_text() == "1 of 9"
    # The 11 points of the NPS fit one row of a 360 px screen, each wide and tall enough to tap.
    points = phone.locator(".scale label")
    boxes = [await points.nth(n).bounding_box() for n in range(await points.count())]
    assert len(boxes) == 11
    assert len({round(box["y"]) for box in boxes}) == 1
    assert boxes[-1]["x"] + boxes[-1]["width"] <= PHONE["width"]
    assert all(box["width"] >= 24 and box["height"] >= 44 for box in boxes)
    await phone.get_by_role("radio", name="9", exact=True).check()
    await submit(phone)

    assert await asked(phone) == "How would you rate the driver?"
    await phone.get_by_role("radio", name="4 of 5 stars").check()
    await submit(phone)

    # The customer reloads, then leaves and opens the link again later: the survey goes on where it stopped.
    await phone.reload()
    assert await asked(phone) == "How satisfied are you with the packaging?"
    await phone.goto("about:blank")
    await phone.goto(link)
    assert await asked(phone) == "How satisfied are you with the packaging?"
    assert await phone.locator("#progress").inner_text() == "3 of 9"
    await phone.get_by_role("radio", name="5 of 5").check()
    await submit(phone)

    assert await asked(phone) == "How easy was it to track your parcel?"
    await submit(phone, "Skip")

    assert await asked(phone) == "Where did you order?"
    await phone.get_by_label("On the website").check()
    await submit(phone)

    assert await asked(phone) == "What else did you use?"
    await phone.get_by_label("Live tracking").check()
    await phone.get_by_label("Parcel locker").check()
    await submit(phone)

    # Back: the choices made are shown, and changed.
    assert await asked(phone) == "Would you order again?"
    async with phone.expect_navigation():
        await phone.get_by_role("link", name="Back").click()
    assert await asked(phone) == "What else did you use?"
    assert await phone.get_by_label("Live tracking").is_checked()
    assert await phone.get_by_label("Parcel locker").is_checked()
    await phone.get_by_label("Parcel locker").uncheck()
    await submit(phone)

    assert await asked(phone) == "Would you order again?"
    await phone.get_by_role("radio", name="Yes").check()
    await submit(phone)

    assert await asked(phone) == "How many parcels did you get?"
    await phone.get_by_label("How many parcels did you get?").fill("25")
    await submit(phone)
    error = phone.locator("#error")
    assert "from 1 to 20" in await error.inner_text()
    assert (await phone.title()).startswith("Error:")
    await phone.get_by_label("How many parcels did you get?").fill("3")
    await submit(phone)

    assert await asked(phone) == "Anything else you want to tell us?"
    counter = phone.locator("#counter")
    assert await counter.inner_text() == "0 of 280 characters"
    await phone.get_by_label("Anything else you want to tell us?").fill("Quick and friendly")
    assert await counter.inner_text() == "18 of 280 characters"  # counted as it is typed
    await submit(phone, "Send")

    assert await phone.locator("h1").inner_text() == "Thank you!"
    assert await stored(conn, sent.invitation_id) == {
        "nps": 9,
        "stars": 4,
        "mood": 5,
        "effort": None,
        "channel": "web",
        "extras": ["tracking"],
        "again": True,
        "parcels": 3,
        "comment": "Quick and friendly",
    }
    assert (
        await conn.fetchval("SELECT response_state FROM invitations WHERE invitation_id = $1", sent.invitation_id)
        == "completed"
    )


async def test_the_survey_works_without_javascript(
    browser: Any, live_server: str, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, locale="de")
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    async with watched(context) as page:
        await page.goto(f"{live_server}/s/{sent.token}")
        assert await page.get_attribute("html", "lang") == "de"
        await submit(page, "Weiter")  # nothing chosen
        assert await page.locator("#error").text_content() == "Fehler: Bitte beantworten Sie diese Frage."
        await page.get_by_role("radio", name="3", exact=True).check()
        await submit(page, "Weiter")
        await page.get_by_role("radio", name="2 von 5 Sternen").check()
        await submit(page, "Weiter")
        await page.get_by_role("radio", name="1 von 5").check()
        await submit(page, "Weiter")
        await page.get_by_role("radio", name="7", exact=True).check()
        await submit(page, "Weiter")
        await page.get_by_label("In der App").check()
        await submit(page, "Weiter")
        await submit(page, "Überspringen")
        await page.get_by_role("radio", name="Nein").check()
        await submit(page, "Weiter")
        await submit(page, "Überspringen")
        assert await page.locator("#counter").inner_text() == "0 von 280 Zeichen"  # as the server wrote it
        await page.get_by_label("Möchten Sie uns noch etwas sagen?").fill("Zu spät")
        await submit(page, "Senden")
        assert await page.locator("h1").inner_text() == "Vielen Dank!"
    assert await stored(conn, sent.invitation_id) == {
        "nps": 3,
        "stars": 2,
        "mood": 1,
        "effort": 7,
        "channel": "app",
        "extras": None,
        "again": False,
        "parcels": None,
        "comment": "Zu spät",
    }


async def test_every_kind_of_page_passes_axe(
    phone: Any, live_server: str, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    from axe_playwright_python.async_playwright import Axe

    axe = Axe()
    # The check can fail: axe finds what is wrong with a page that has faults.
    await phone.set_content('<html><body><img src="x.png"><input type="radio" name="a"></body></html>')
    faults = {v["id"] for v in (await axe.run(phone)).response["violations"]}
    assert {"html-has-lang", "image-alt", "label"} <= faults, faults
    sent = await sent_invitation(conn, brand)
    link = f"{live_server}/s/{sent.token}"
    answers = [("nps", "9"), ("stars", "4"), ("mood", "4"), ("effort", "5"), ("channel", "web"),
               ("extras", "tracking"), ("again", "yes"), ("parcels", "3"), ("comment", "Fine")]  # fmt: skip
    expired = await sent_invitation(conn, brand, external_id="late", expires_in=timedelta(seconds=-1))
    found: dict[str, list[str]] = {}

    async def check(name: str) -> None:
        results = await axe.run(phone, options={"resultTypes": ["violations"]})
        found[name] = [f"{v['id']} ({v['impact']}): {v['help']}" for v in results.response["violations"]]
        await shoot(phone, name)

    async with httpx.AsyncClient() as http:
        for question, value in answers:
            await phone.goto(link)
            await check(question)
            if question == "nps":
                await submit(phone)  # nothing chosen: the page with an error
                await check("error")
            response = await http.post(link, data={"question": question, "answer": value})
            assert response.status_code == 303
    await phone.goto(link)
    await check("thanks")
    await phone.goto(f"{live_server}/s/{expired.token}")
    await check("expired")
    await phone.goto(f"{live_server}/s/{'x' * 43}")
    await check("unknown")
    assert len(found) == 13
    assert {name: violations for name, violations in found.items() if violations} == {}


async def test_a_participant_comments_in_the_diary(
    phone: Any, live_server: str, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    """A study participant's diary page (``/d/{token}``): the report they texted, a comment typed and saved, and
    axe-core's rules on the page."""
    from axe_playwright_python.async_playwright import Axe

    from tests.responses.studies import enrolled, study_setup
    from tests.responses.test_studies_diary_page import diary_path

    async with httpx.AsyncClient(base_url=live_server) as client:  # the brand's API, on the same server
        await study_setup(client, brand)  # type: ignore[arg-type]
        customer = await enrolled(client, brand)  # type: ignore[arg-type]
    await diary_path(conn, brand, customer, "BT45")
    path = await diary_path(conn, brand, customer, "CS32")
    await phone.goto(live_server + path)
    assert await phone.locator("h2").all_inner_texts() == ["Cabco · Store", "Bolt · TV ad"]
    await phone.get_by_role("textbox").first.fill("Long wait at the counter.")
    async with phone.expect_navigation():
        await phone.get_by_role("button").first.click()
    assert await phone.get_by_role("status").inner_text() != ""
    assert await phone.get_by_role("textbox").first.input_value() == "Long wait at the counter."
    await shoot(phone, "diary")
    violations = (await Axe().run(phone, options={"resultTypes": ["violations"]})).response["violations"]
    assert [v["id"] for v in violations] == []
    assert await conn.fetchval("SELECT comment FROM self_reports WHERE brand_letter = 'C'") == (
        "Long wait at the counter."
    )
