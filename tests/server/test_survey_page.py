"""The web survey page, ``/s/{token}``, through the test client: one question per page in the customer's language,
each answer saved as it is given (Post/Redirect/Get), resumed where the customer left, changed with Back, closed
pages for completed and expired surveys, one 404 page for every link that leads nowhere, security headers, and
small pages. The real browser's view is in tests/browser/."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from questionnaires.load import load_definition
from tests.conftest import BrandFixture
from tests.responses.factories import sent_invitation

SIZE_LIMIT = 30_000
"""Bytes a page may take with everything it loads (its stylesheet and script), on a slow phone connection."""

BRANCHING = load_definition(
    b"""
key: after_call
title: Your call
default_locale: en
questions:
  - {id: nps, type: nps, text: "How likely are you to recommend us?"}
  - {id: went_wrong, type: text, required: false, show_if: {field: nps, lte: 6}, text: "What went wrong?"}
  - {id: again, type: yes_no, text: "Would you call us again?"}
""",
    "yaml",
)

EVERY_TYPE_ANSWERS: list[tuple[str, list[str]]] = [
    ("nps", ["9"]),
    ("stars", ["4"]),
    ("mood", ["5"]),
    ("effort", ["6"]),
    ("channel", ["web"]),
    ("extras", ["tracking", "locker"]),
    ("again", ["yes"]),
    ("parcels", ["3"]),
    ("comment", ["Quick and friendly"]),
]
EVERY_TYPE_STORED = {
    "nps": 9,
    "stars": 4,
    "mood": 5,
    "effort": 6,
    "channel": "web",
    "extras": ["locker", "tracking"],
    "again": True,
    "parcels": 3,
    "comment": "Quick and friendly",
}
"""What `EVERY_TYPE_ANSWERS` are stored as."""


async def post(client: AsyncTestClient, token: str, question: str, *values: str, skip: bool = False) -> Any:
    form: dict[str, Any] = {"question": question, "answer": list(values)}
    if skip:
        form["skip"] = "1"
    return await client.post(f"/s/{token}", data=form, follow_redirects=False)


async def answered(client: AsyncTestClient, token: str, question: str, *values: str) -> None:
    response = await post(client, token, question, *values)
    assert response.status_code == 303, response.text


async def current(conn: asyncpg.Connection, invitation_id: object) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT question_id, value::text FROM answers WHERE invitation_id = $1 AND replaced_at IS NULL",
        invitation_id,
    )
    return {r["question_id"]: msgspec.json.decode(r["value"]) for r in rows}


def legend(html: str) -> str:
    """The question a page asks (a legend, or a text answer's label)."""
    found = re.search(r'<(?:legend|label) class="question"[^>]*>(.*?)(?: <span class="optional">|</)', html)
    assert found is not None, html
    return found.group(1)


async def test_the_first_view_asks_the_first_question_in_the_customers_language_and_marks_it_opened(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, locale="de-AT")
    page = await client.get(f"/s/{sent.token}")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    html = page.text
    assert '<html lang="de">' in html
    assert "<h1>Ihre Lieferung</h1>" in html
    assert "Danke für Ihre Bestellung. Ein paar kurze Fragen." in html  # the intro, on the first question only
    assert legend(html) == "Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?"
    assert "1 von 9" in html and '<progress max="9" value="1"' in html
    assert ">Weiter</button>" in html
    assert 'name="question" value="nps"' in html
    assert html.count('type="radio" name="answer"') == 11
    assert "Gar nicht wahrscheinlich" in html and "Äußerst wahrscheinlich" in html
    assert "Zurück" not in html  # nothing to go back to
    assert "<script" not in html  # nothing to enhance on a scale
    state = await conn.fetchrow(
        "SELECT response_state, opened_at, response_channel FROM invitations WHERE invitation_id = $1",
        sent.invitation_id,
    )
    assert state["response_state"] == "opened" and state["opened_at"] is not None
    assert state["response_channel"] == "web"


@pytest.mark.parametrize(
    "agent",
    [
        "WhatsApp/2.23.20.0",
        "facebookexternalhit/1.1 Facebot Twitterbot/1.0",  # iMessage
        "TelegramBot (like TwitterBot)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    ],
)
async def test_a_messaging_apps_link_preview_does_not_open_the_survey(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, agent: str
) -> None:
    sent = await sent_invitation(conn, brand)
    preview = await client.get(f"/s/{sent.token}", headers={"user-agent": agent})
    assert preview.status_code == 200
    opened = "SELECT opened_at FROM invitations WHERE invitation_id = $1"
    assert await conn.fetchval(opened, sent.invitation_id) is None
    phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
    await client.get(f"/s/{sent.token}", headers={"user-agent": phone})
    assert await conn.fetchval(opened, sent.invitation_id) is not None


async def test_an_answer_is_saved_and_the_page_redirects_to_the_next_question(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    response = await post(client, sent.token, "nps", "9")
    assert response.status_code == 303
    assert response.headers["location"] == sent.token  # relative: /s/{token} behind any path prefix
    assert response.headers["cache-control"] == "no-store"
    assert await current(conn, sent.invitation_id) == {"nps": 9}
    assert await conn.fetchval("SELECT channel FROM answers WHERE invitation_id = $1", sent.invitation_id) == "web"
    page = (await client.get(f"/s/{sent.token}")).text
    assert legend(page) == "How would you rate the driver?"
    assert "Thanks for ordering" not in page  # the intro belongs to the first question
    assert 'href="?q=nps"' in page
    # A repeated post (a double tap, a resent form) changes nothing.
    await answered(client, sent.token, "nps", "9")
    assert await conn.fetchval("SELECT count(*) FROM answers WHERE invitation_id = $1", sent.invitation_id) == 1


@pytest.mark.parametrize(
    ("question", "values", "message"),
    [
        ("nps", [], "Please answer this question."),
        ("nps", ["11"], "Please reply with a number from 0 to 10."),
        ("parcels", ["25"], "Please reply with a number from 1 to 20."),
        ("parcels", ["lots"], "Please reply with a number from 1 to 20."),
        ("comment", ["x" * 281], "Please keep your answer to 280 characters."),
    ],
)
async def test_an_invalid_answer_shows_the_question_again_with_what_is_wrong(
    client: AsyncTestClient,
    conn: asyncpg.Connection,
    brand: BrandFixture,
    question: str,
    values: list[str],
    message: str,
) -> None:
    sent = await sent_invitation(conn, brand)
    before = EVERY_TYPE_ANSWERS[: list(EVERY_TYPE_STORED).index(question)]
    for asked, given in before:
        await answered(client, sent.token, asked, *given)
    response = await post(client, sent.token, question, *values)
    assert response.status_code == 422
    html = response.text
    assert f'<p class="error" id="error"><span class="vh">Error: </span>{message}</p>' in html
    assert "<title>Error: " in html
    assert 'aria-describedby="' in html and re.search(r'aria-describedby="[^"]*error', html)
    assert f'name="question" value="{question}"' in html
    if question != "nps":
        assert values[0] in html  # what the customer typed is kept
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert await current(conn, sent.invitation_id) == {q: EVERY_TYPE_STORED[q] for q, _ in before}
    kept = await conn.fetchrow(
        "SELECT channel, raw, reason FROM refused_answers WHERE invitation_id = $1", sent.invitation_id
    )
    assert (kept["channel"], kept["reason"]) == ("web", "invalid")
    assert msgspec.json.decode(kept["raw"]) == ({"answer": values} if values else {})


async def test_skip_passes_an_optional_question_and_not_a_required_one(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    refused = await post(client, sent.token, "nps", skip=True)
    assert refused.status_code == 422 and "Please answer this question." in refused.text
    for question, values in EVERY_TYPE_ANSWERS[:3]:
        await answered(client, sent.token, question, *values)
    page = (await client.get(f"/s/{sent.token}")).text
    assert '<span class="optional">(optional)</span>' in page
    assert 'name="skip" value="1"' in page
    skipped = await post(client, sent.token, "effort", "6", skip=True)  # Skip wins over a half-made choice
    assert skipped.status_code == 303
    assert (await current(conn, sent.invitation_id))["effort"] is None


async def test_a_customer_who_leaves_comes_back_where_they_stopped(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    for question, values in EVERY_TYPE_ANSWERS[:4]:
        await answered(client, sent.token, question, *values)
    page = (await client.get(f"/s/{sent.token}")).text
    assert legend(page) == "Where did you order?"
    assert "5 of 9" in page
    assert 'href="?q=effort"' in page


async def test_every_type_completes_and_then_the_page_thanks(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    for question, values in EVERY_TYPE_ANSWERS:
        page = (await client.get(f"/s/{sent.token}")).text
        assert f'name="question" value="{question}"' in page
        await answered(client, sent.token, question, *values)
    assert await current(conn, sent.invitation_id) == EVERY_TYPE_STORED
    state = await conn.fetchrow(
        "SELECT response_state, end_reason FROM invitations WHERE invitation_id = $1", sent.invitation_id
    )
    assert (state["response_state"], state["end_reason"]) == ("completed", "completed")
    thanks = await client.get(f"/s/{sent.token}")
    assert thanks.status_code == 200
    assert "<h1>Thank you!</h1>" in thanks.text and "Your answers have been saved." in thanks.text
    # A late post (another tab, a resent form) changes nothing and lands on the thanks.
    late = await post(client, sent.token, "nps", "0")
    assert late.status_code == 303
    assert (await current(conn, sent.invitation_id))["nps"] == 9


async def test_an_option_that_ends_the_survey_ends_it(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    for question, values in [*EVERY_TYPE_ANSWERS[:4], ("channel", ["none"])]:
        await answered(client, sent.token, question, *values)
    assert "<h1>Thank you!</h1>" in (await client.get(f"/s/{sent.token}")).text
    assert (
        await conn.fetchval("SELECT end_reason FROM invitations WHERE invitation_id = $1", sent.invitation_id)
        == "ended_early"
    )


async def test_back_shows_an_answer_to_change_and_a_change_drops_what_branching_no_longer_asks(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, BRANCHING)
    await answered(client, sent.token, "nps", "3")
    await answered(client, sent.token, "went_wrong", "Long queue")
    page = (await client.get(f"/s/{sent.token}")).text
    assert legend(page) == "Would you call us again?" and "3 of 3" in page
    assert 'href="?q=went_wrong"' in page
    back = (await client.get(f"/s/{sent.token}?q=went_wrong")).text
    assert ">Long queue</textarea>" in back and 'href="?q=nps"' in back and "2 of 3" in back
    first = (await client.get(f"/s/{sent.token}?q=nps")).text
    assert '<input type="radio" name="answer" value="3" checked>' in first
    assert "1 of 3" in first and "?q=" not in first
    await answered(client, sent.token, "nps", "9")  # a promoter is not asked what went wrong
    page = (await client.get(f"/s/{sent.token}")).text
    assert legend(page) == "Would you call us again?" and "2 of 2" in page
    assert 'href="?q=nps"' in page
    assert await current(conn, sent.invitation_id) == {"nps": 9}
    history = await conn.fetch(
        "SELECT question_id, value::text, replaced_reason FROM answers WHERE invitation_id = $1 "
        "ORDER BY answered_at, question_id",
        sent.invitation_id,
    )
    assert [(r["question_id"], r["value"], r["replaced_reason"]) for r in history] == [
        ("nps", "3", "changed"),
        ("went_wrong", '"Long queue"', "branch"),
        ("nps", "9", None),
    ]


async def test_a_question_not_asked_yet_cannot_be_shown_or_answered_out_of_turn(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    for wanted in ("comment", "stars", "nope"):
        page = (await client.get(f"/s/{sent.token}?q={wanted}")).text
        assert 'name="question" value="nps"' in page
    # A stale page (another tab went on, or was sent back) posting a question the flow does not ask now.
    for question in ("comment", "nope", ""):
        response = await post(client, sent.token, question, "Hello")
        assert response.status_code == 303
    assert await current(conn, sent.invitation_id) == {}


async def test_an_expired_survey_says_so_and_records_it(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, locale="de", expires_in=timedelta(seconds=-1))
    page = await client.get(f"/s/{sent.token}")
    assert page.status_code == 410
    assert "<h1>Diese Umfrage ist beendet</h1>" in page.text
    assert (
        await conn.fetchval("SELECT response_state FROM invitations WHERE invitation_id = $1", sent.invitation_id)
        == "expired"
    )
    late = await post(client, sent.token, "nps", "9")
    assert late.status_code == 303
    assert await current(conn, sent.invitation_id) == {}


async def test_an_answer_that_arrives_after_the_time_is_refused_and_the_expiry_recorded(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    await client.get(f"/s/{sent.token}")
    await conn.execute("UPDATE invitations SET expires_at = now() WHERE invitation_id = $1", sent.invitation_id)
    assert (await post(client, sent.token, "nps", "9")).status_code == 303
    assert await current(conn, sent.invitation_id) == {}
    assert (
        await conn.fetchval("SELECT response_state FROM invitations WHERE invitation_id = $1", sent.invitation_id)
        == "expired"
    )


async def test_every_link_that_leads_nowhere_gets_the_same_page(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    altered = sent.token[:-1] + ("A" if sent.token[-1] != "A" else "B")
    paths = [
        f"/s/{secrets.token_urlsafe(32)}",  # well-formed, unknown
        f"/s/{altered}",  # one character off a real one
        "/s/short",
        f"/s/{sent.token}x",
        "/s/" + "x" * 42 + "!",
        "/s/%00" + sent.token[3:],
        "/s/%FF%FE",
        "/s/" + "a" * 5000,
    ]
    pages = [await client.get(path) for path in paths]
    pages.append(await client.post(f"/s/{secrets.token_urlsafe(32)}", data={"question": "nps", "answer": "9"}))
    pages.append(await client.post("/s/short", data={"question": "nps", "answer": "9"}))
    for response in pages:
        assert response.status_code == 404
        assert response.content == pages[0].content
        assert dict(response.headers) == dict(pages[0].headers)
    assert "Survey not found" in pages[0].text and sent.token not in pages[0].text
    german = await client.get("/s/short", headers={"Accept-Language": "fr;q=0.5, de-CH, en;q=0.8"})
    assert "Umfrage nicht gefunden" in german.text and '<html lang="de">' in german.text
    assert await current(conn, sent.invitation_id) == {}


async def test_every_page_carries_the_security_headers(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand)
    expired = await sent_invitation(conn, brand, external_id="late", expires_in=timedelta(seconds=-1))
    responses = [
        await client.get(f"/s/{sent.token}"),
        await post(client, sent.token, "nps"),  # 422
        await post(client, sent.token, "nps", "9"),  # 303
        await client.get(f"/s/{expired.token}"),
        await client.get("/s/unknown"),
    ]
    for response in responses:
        csp = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        assert directives["form-action"] == "'self'" and directives["frame-ancestors"] == "'none'"
        assert directives["base-uri"] == "'none'"
        assert "unsafe" not in csp
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
    # Nothing inline for the policy to allow: no script or style element with content, no style attribute.
    html = responses[0].text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html


async def test_the_stylesheet_and_script_are_served_by_lxt_and_cached_for_good(client: AsyncTestClient) -> None:
    from server.pages import ASSETS

    for name, media_type in (("page.css", "text/css"), ("survey.js", "text/javascript")):
        response = await client.get(f"/static/{name}?v={ASSETS[name]}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media_type)
        assert response.headers["cache-control"] == "max-age=31536000, public, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"


async def page_kinds(client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture) -> dict[str, Any]:
    """Every kind of page the survey shows, by name."""
    sent = await sent_invitation(conn, brand)
    kinds: dict[str, Any] = {}
    for question, values in EVERY_TYPE_ANSWERS:
        kinds[question] = await client.get(f"/s/{sent.token}")
        await answered(client, sent.token, question, *values)
    kinds["thanks"] = await client.get(f"/s/{sent.token}")
    other = await sent_invitation(conn, brand, external_id="other")
    kinds["error"] = await post(client, other.token, "nps")
    expired = await sent_invitation(conn, brand, external_id="late", expires_in=timedelta(seconds=-1))
    kinds["expired"] = await client.get(f"/s/{expired.token}")
    kinds["unknown"] = await client.get("/s/unknown")
    return kinds


async def test_every_page_is_small_with_all_it_loads(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    assets = {name: len((await client.get(f"/static/{name}")).content) for name in ("page.css", "survey.js")}
    sizes = {}
    for kind, response in (await page_kinds(client, conn, brand)).items():
        loaded = re.findall(r'(?:href|src)="\.\./static/([^"?]+)', response.text)
        assert "page.css" in loaded, kind
        sizes[kind] = len(response.content) + sum(assets[name] for name in loaded)
    assert sizes and all(size < SIZE_LIMIT for size in sizes.values()), sizes
    # The page itself is a small part of it: the stylesheet is shared and cached.
    assert all(size - assets["page.css"] < 8_000 for size in sizes.values()), sizes


async def test_a_token_of_one_brand_shows_only_that_brands_survey(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture, other_brand: BrandFixture
) -> None:
    ours = await sent_invitation(conn, brand, BRANCHING)
    theirs_definition = msgspec.structs.replace(BRANCHING, title="Globex hotline")  # the same key, another brand
    theirs = await sent_invitation(conn, other_brand, theirs_definition, external_id="cust-1")
    await answered(client, theirs.token, "nps", "2")
    page = (await client.get(f"/s/{ours.token}")).text
    assert "<h1>Your call</h1>" in page and "Globex" not in page
    assert 'name="question" value="nps"' in page  # their answer is not ours
    await answered(client, ours.token, "nps", "10")
    assert await current(conn, ours.invitation_id) == {"nps": 10}
    assert await current(conn, theirs.invitation_id) == {"nps": 2}
    brands = await conn.fetch("SELECT DISTINCT brand_id FROM answers WHERE invitation_id = $1", ours.invitation_id)
    assert [r["brand_id"] for r in brands] == [brand.brand.brand_id]


def test_link_tokens_never_reach_the_log() -> None:
    from server.logs import redact

    token = secrets.token_urlsafe(32)
    for line in (
        f'127.0.0.1 "GET /s/{token}?q=nps HTTP/1.1" 200 4.1 ms',
        f'127.0.0.1 "POST /v1/responses/{token}/answers HTTP/1.1" 422 3.0 ms',
        f"unhandled error on GET /s/{token}",
        f'127.0.0.1 "POST /d/{token} HTTP/1.1" 303 2.2 ms',
        f"Add a note: https://lxt.example/d/{token}",
        f"push data {{'lxt_token': '{token}', 'lxt_url': 'https://lxt.example/s/{token}'}}",
        f'webhook {{"token": "{token}", "link": "https://lxt.example/s/{token}"}}',
    ):
        assert token not in redact(line), line
        assert token[:10] not in redact(line), line


async def test_a_survey_answered_to_the_end_in_the_app_is_completed_by_the_page(
    client: AsyncTestClient, conn: asyncpg.Connection, brand: BrandFixture
) -> None:
    sent = await sent_invitation(conn, brand, BRANCHING)
    stored = await client.post(f"/v1/responses/{sent.token}/answers", json={"answers": {"nps": 9, "again": True}})
    assert stored.json()["next_question"] is None and stored.json()["response_state"] == "partial"
    page = await client.get(f"/s/{sent.token}")
    assert page.status_code == 200 and "<h1>Thank you!</h1>" in page.text
    assert (
        await conn.fetchval("SELECT response_state FROM invitations WHERE invitation_id = $1", sent.invitation_id)
        == "completed"
    )
