"""The diary page a confirmation links to: the participant's reports, a comment on each, and nothing for anyone
else (one answer for every token that is not a participant's)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
from litestar.testing import AsyncTestClient

from tests.conftest import BrandFixture
from tests.responses.studies import BASE_URL, enrolled, move_diary, study_setup, text


async def diary_path(conn: asyncpg.Connection, brand: BrandFixture, customer, code: str = "BT45") -> str:
    reply = await text(conn, brand, customer, code)
    assert reply is not None
    match = re.search(re.escape(BASE_URL) + r"(/d/[A-Za-z0-9_-]{43})$", reply.text)
    assert match, reply.text
    return match[1]


async def test_the_page_lists_reports_newest_first_and_keeps_comments(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    customer = await enrolled(client, brand, locale="de", time_zone="Europe/Berlin")
    await diary_path(conn, brand, customer, "BT45")
    path = await diary_path(conn, brand, customer, "CS21")
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "form-action 'self'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert '<html lang="de">' in html and "<script" not in html and "<style" not in html
    assert "http" not in html.split("<body>")[1]
    assert html.index("Cabco · Store") < html.index("Bolt · TV ad")  # newest first
    assert "positiv 2/5 · überzeugend 1/5" in html
    assert len(page.content) < 30_000
    report_id = await conn.fetchval("SELECT report_id::text FROM self_reports WHERE brand_letter = 'C'")
    label = f'<label for="c-{report_id}">Kommentar</label>'
    assert label in html and f'id="c-{report_id}" name="comment"' in html

    saved = await client.post(
        path,
        data={"report_id": report_id, "comment": "Der Fahrer war <b>sehr</b> nett\r\n"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{path.removeprefix('/d/')}?saved={report_id}#r-{report_id}"
    assert saved.headers["referrer-policy"] == "no-referrer"
    after = await client.get(f"{path}?saved={report_id}")
    assert "Der Fahrer war &lt;b&gt;sehr&lt;/b&gt; nett</textarea>" in after.text  # escaped, line break trimmed
    assert "Gespeichert." in after.text

    await client.post(path, data={"report_id": report_id, "comment": "Sehr nett."})
    await client.post(path, data={"report_id": report_id, "comment": "Sehr nett."})  # a repeat changes nothing
    stored = await conn.fetchrow(
        "SELECT comment, comment_updated_at FROM self_reports WHERE report_id = $1::uuid", report_id
    )
    assert stored["comment"] == "Sehr nett." and stored["comment_updated_at"] is not None
    history = await conn.fetch("SELECT comment FROM self_report_comments ORDER BY seq")
    assert [r["comment"] for r in history] == ["Der Fahrer war <b>sehr</b> nett", "Sehr nett."]


async def test_every_token_that_is_not_a_participants_gets_the_same_answer(
    client: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    mine = await diary_path(conn, brand, await enrolled(client, brand, external_id="p-1"))
    theirs = await diary_path(
        conn, brand, await enrolled(client, brand, external_id="p-2", phone="+4915100000002"), "CS33"
    )
    their_report = await conn.fetchval("SELECT report_id::text FROM self_reports WHERE brand_letter = 'C'")
    unknown = "/d/" + secrets.token_urlsafe(32)
    answers = [await client.get(p) for p in (unknown, "/d/short", "/d/" + "%00" * 3, "/d/" + "x" * 500)]
    answers.append(await client.post(mine, data={"report_id": their_report, "comment": "mine now"}))
    answers.append(await client.post(mine, data={"report_id": "not-an-id", "comment": "x"}))
    answers.append(await client.post(unknown, data={"report_id": str(uuid4()), "comment": "x"}))
    for answer in answers[:2] + answers[3:]:
        assert answer.status_code == 404, answer.text
        assert answer.content == answers[0].content  # one page for every link that leads nowhere
    assert answers[2].status_code in (404, 422)  # a NUL never reaches a query
    assert await conn.fetchval("SELECT comment FROM self_reports WHERE report_id = $1::uuid", their_report) is None
    assert (await client.get(theirs)).status_code == 200

    # A withdrawn participant's page is gone, and so is one whose diary ended over two weeks ago.
    await client.delete("/v1/studies/rides/participants/p-2", headers=brand.headers("manage"))
    assert (await client.get(theirs)).status_code == 404
    now = datetime.now(UTC)
    await move_diary(conn, "p-1", starts=now - timedelta(days=22), ends=now - timedelta(days=15))
    assert (await client.get(mine)).status_code == 404
    await move_diary(conn, "p-1", starts=now - timedelta(days=20), ends=now - timedelta(days=13))
    assert (await client.get(mine)).status_code == 200


async def test_only_the_tokens_hash_is_stored(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    path = await diary_path(conn, brand, await enrolled(client, brand))
    token = path.removeprefix("/d/")
    stored = await conn.fetch("SELECT token_hash FROM diary_links")
    assert [bytes(r["token_hash"]) for r in stored] == [hashlib.sha256(token.encode()).digest()]


async def test_the_page_shows_the_latest_reports_and_stays_small(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await study_setup(client, brand)
    customer = await enrolled(client, brand)
    for n in range(44):
        path = await diary_path(conn, brand, customer, f"C{'ST'[n % 2]}{n % 5 + 1}{(n + 2) % 5 + 1}")
    page = await client.get(path)
    assert page.text.count("<section") == 40
    assert len(page.content) < 30_000
