"""The research dashboard through the test client: signing in with an export key for a session cookie and out
again, what refuses a session (another site's form, an expired session, a revoked key), the pages' security
headers, and the customer timeline viewer's 404s. The real browser's view is in tests/browser/test_dashboard.py.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import asyncpg
import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from research import audit
from server import tenants
from server.pages import CSP
from tests.conftest import BrandFixture
from tests.helpers import event, report
from tests.responses.factories import sent_invitation

SIGN_IN = "/dashboard/login"


@pytest_asyncio.fixture(loop_scope="session")
async def browser(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client at lxt's HTTPS address, as a browser would reach a deployment: it keeps the Secure cookies."""
    async with AsyncTestClient(app, base_url="https://lxt.test") as client:
        client.follow_redirects = False
        yield client


def form_token(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)


async def sign_in(client: AsyncTestClient, key: str) -> httpx.Response:
    """Open the sign-in form and send it with `key`, as a browser would."""
    form = await client.get(SIGN_IN)
    assert form.status_code == 200
    return await client.post(SIGN_IN, data={"csrf": form_token(form.text), "key": key})


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        found.update(dict.fromkeys(cookie, cookie))
    return found


async def test_an_export_key_signs_in_for_a_session_cookie_that_only_the_dashboard_gets(
    browser: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    response = await sign_in(browser, brand.keys["export"])
    assert response.status_code == 303
    assert response.headers["location"] == "../dashboard"
    cookie = set_cookies(response)["lxt_dashboard"]["lxt_dashboard"]
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/dashboard"
    assert int(cookie["max-age"]) == 12 * 3600
    # The database holds the token's hash, never the token.
    (stored,) = await conn.fetch(
        "SELECT token_hash, brand_id, key_id, expires_at - created_at AS lasts FROM dashboard_sessions"
    )
    assert stored["token_hash"] == hashlib.sha256(cookie.value.encode()).digest()
    assert stored["brand_id"] == brand.brand.brand_id
    assert stored["lasts"].total_seconds() == 12 * 3600
    page = await browser.get("/dashboard")
    assert page.status_code == 200
    assert "<h1>Touchpoints</h1>" in page.text
    (signed_in,) = await audit.entries(conn, brand.brand.brand_id)
    assert (signed_in.actor, signed_in.action) == (
        f"dashboard:{brand.keys['export'].split('_')[1]}",
        "dashboard_sign_in",
    )


async def test_a_key_with_export_pii_signs_in_and_one_with_manage_alone_does_not(
    browser: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    refused = await sign_in(browser, brand.keys["manage"])
    assert refused.status_code == 403
    assert "needs the export scope" in refused.text
    assert "lxt_dashboard" not in set_cookies(refused)
    assert (await sign_in(browser, brand.keys["ingest"])).status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM dashboard_sessions") == 0
    assert (await sign_in(browser, brand.keys["export_pii"])).status_code == 303
    assert (await browser.get("/dashboard")).status_code == 200


@pytest.mark.parametrize("wrong", ["revoked", "unknown", "not a key", ""])
async def test_a_wrong_key_gets_the_form_again_with_the_same_words_whatever_it_was(
    browser: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, wrong: str
) -> None:
    key = brand.keys["export"]
    if wrong == "revoked":
        await tenants.revoke_key(conn, key.split("_")[1])
    elif wrong == "unknown":
        key = tenants.new_key()[0]
    else:
        key = wrong
    response = await sign_in(browser, key)
    assert response.status_code == 401
    assert "This key is not valid, or it was revoked." in response.text
    assert 'aria-invalid="true"' in response.text
    assert "lxt_dashboard" not in set_cookies(response)
    assert (await browser.get("/dashboard")).headers["location"] == "dashboard/login"


async def test_pages_without_a_session_send_the_browser_to_sign_in(browser: AsyncTestClient) -> None:
    assert (await browser.get("/dashboard")).headers["location"] == "dashboard/login"
    assert (await browser.get("/dashboard/customers/c-1")).headers["location"] == "../login"
    for response in [await browser.get("/dashboard"), await browser.get("/dashboard/customers/c-1")]:
        assert response.status_code == 303
        assert response.headers["cache-control"] == "no-store"


async def test_the_dashboard_with_a_trailing_slash_moves_to_its_address(browser: AsyncTestClient) -> None:
    """Its links are relative to ``/dashboard``: from ``/dashboard/`` they would lead elsewhere."""
    response = await browser.get("/dashboard/?bucket=week")
    assert (response.status_code, response.headers["location"]) == (303, "../dashboard?bucket=week")


async def test_another_sites_form_signs_nobody_in(
    browser: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    key = brand.keys["export"]
    form = await browser.get(SIGN_IN)
    token = form_token(form.text)
    # A page elsewhere cannot read the form's token nor set its cookie: without either, or with another, no session.
    cases = [
        ({"key": key}, {}),
        ({"key": key, "csrf": "guessed"}, {}),
        ({"key": key, "csrf": token}, {"sec-fetch-site": "cross-site"}),
    ]
    for data, headers in cases:
        response = await browser.post(SIGN_IN, data=data, headers=headers)
        assert response.status_code == 403, data
        assert "The sign-in form had expired" in response.text
    browser.cookies.clear()
    assert (await browser.post(SIGN_IN, data={"key": key, "csrf": token})).status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM dashboard_sessions") == 0


async def test_signing_out_needs_the_pages_token_and_ends_the_session(
    browser: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await sign_in(browser, brand.keys["export"])
    page = await browser.get("/dashboard")
    token = form_token(page.text)
    for data, headers in [({}, {}), ({"csrf": "x" * 64}, {}), ({"csrf": token}, {"sec-fetch-site": "same-site"})]:
        refused = await browser.post("/dashboard/logout", data=data, headers=headers)
        assert refused.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM dashboard_sessions") == 1
    out = await browser.post("/dashboard/logout", data={"csrf": token})
    assert (out.status_code, out.headers["location"]) == (303, "login")
    assert set_cookies(out)["lxt_dashboard"]["lxt_dashboard"]["max-age"] == "0"
    assert await conn.fetchval("SELECT count(*) FROM dashboard_sessions") == 0
    assert (await browser.get("/dashboard")).status_code == 303


async def test_a_session_ends_when_it_expires_or_its_key_is_revoked(
    browser: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await sign_in(browser, brand.keys["export"])
    await conn.execute("UPDATE dashboard_sessions SET expires_at = now() - interval '1 second'")
    assert (await browser.get("/dashboard")).status_code == 303
    await sign_in(browser, brand.keys["export"])
    assert await conn.fetchval("SELECT count(*) FROM dashboard_sessions") == 1  # the expired one was removed
    assert (await browser.get("/dashboard")).status_code == 200
    await tenants.revoke_key(conn, brand.keys["export"].split("_")[1])
    assert (await browser.get("/dashboard")).status_code == 303


async def test_plain_http_to_this_machine_gets_a_cookie_the_browser_keeps(
    app: Litestar, brand: BrandFixture
) -> None:
    """``make run`` serves http://127.0.0.1:8000: a Secure cookie would be dropped there by some browsers."""
    async with AsyncTestClient(app, base_url="http://127.0.0.1:8000") as local:
        local.follow_redirects = False
        response = await sign_in(local, brand.keys["export"])
        assert set_cookies(response)["lxt_dashboard"]["lxt_dashboard"]["secure"] == ""
        assert (await local.get("/dashboard")).status_code == 200
        assert 'id="https"' not in (await local.get(SIGN_IN)).text
    # Anywhere else, plain HTTP gets Secure cookies, which a browser does not send back: the page says why.
    async with AsyncTestClient(app, base_url="http://lxt.example") as elsewhere:
        form = await elsewhere.get(SIGN_IN)
        assert set_cookies(form)["lxt_dashboard_sign_in"]["lxt_dashboard_sign_in"]["secure"] is True
        assert "browsers keep the dashboard's session cookie only over HTTPS" in form.text
    async with AsyncTestClient(app, base_url="https://lxt.example") as deployed:
        assert 'id="https"' not in (await deployed.get(SIGN_IN)).text


async def test_every_dashboard_page_carries_the_pages_security_headers(
    browser: AsyncTestClient, brand: BrandFixture
) -> None:
    responses = [await browser.get(SIGN_IN), await sign_in(browser, brand.keys["manage"])]
    await sign_in(browser, brand.keys["export"])
    responses += [
        await browser.get("/dashboard"),
        await browser.get("/dashboard?from=yesterday"),
        await browser.get("/dashboard/customers/nobody"),
    ]
    assert [r.status_code for r in responses] == [200, 403, 200, 422, 404]
    for response in responses:
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-type"].startswith("text/html")
        assert "<script" not in response.text and "style=" not in response.text


async def test_the_key_never_reaches_the_logs(
    browser: AsyncTestClient, brand: BrandFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx")  # each request's line at least: the check can fail
    with caplog.at_level(logging.DEBUG):
        await sign_in(browser, brand.keys["export"])
        await sign_in(browser, brand.keys["manage"])
        await sign_in(browser, brand.keys["export"] + "x")
    assert caplog.records
    for key in (brand.keys["export"], brand.keys["manage"]):
        assert not [r for r in caplog.records if key in r.getMessage()]


async def test_the_timeline_viewer_shows_the_brands_own_customers_only(
    browser: AsyncTestClient, brand: BrandFixture, other_brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await sent_invitation(conn, other_brand, external_id="theirs")
    await sent_invitation(conn, brand, external_id="shared", questionnaire="store_visit_nps")
    await sent_invitation(conn, other_brand, external_id="shared", questionnaire="delivery_csat")
    await sign_in(browser, brand.keys["export"])
    for unknown in ("theirs", "nobody"):
        response = await browser.get(f"/dashboard/customers/{unknown}")
        assert response.status_code == 404
        assert f"Acme has no customer with the id “{unknown}”." in response.text
        assert "Invitation" not in response.text
    shared = await browser.get("/dashboard/customers/shared")
    assert shared.status_code == 200
    assert "store_visit_nps v1" in shared.text and "delivery_csat" not in shared.text


async def test_an_events_idempotency_key_is_shown_only_to_a_key_that_may_read_contact_data(
    browser: AsyncTestClient, brand: BrandFixture
) -> None:
    await report(browser, brand, event("order-4711"))
    for scope, shown in (("export", False), ("export_pii", True)):
        await sign_in(browser, brand.keys[scope])
        page = await browser.get("/dashboard/customers/c-1")
        assert page.status_code == 200 and "store_visit" in page.text
        assert ("Idempotency key order-4711" in page.text) is shown, scope
        assert "Idempotency key None" not in page.text


async def test_the_look_up_form_leads_to_the_customers_page(browser: AsyncTestClient) -> None:
    response = await browser.get("/dashboard/customer", params={"external_id": " a/b c ", "tz": "Europe/Berlin"})
    assert response.status_code == 303
    assert response.headers["location"] == "customers/a%2Fb%20c?tz=Europe/Berlin"


async def test_a_long_timeline_comes_in_pages(
    browser: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    sent = await sent_invitation(conn, brand, external_id="c-1")
    await conn.execute(
        "INSERT INTO consent_changes (brand_id, customer_id, channel, granted, source, changed_at) "
        "SELECT $1, $2, 'sms', n % 2 = 0, 'api', now() - interval '1 day' + n * interval '1 second' "
        "FROM generate_series(1, 120) n",
        brand.brand.brand_id,
        sent.customer_id,
    )
    await sign_in(browser, brand.keys["export"])
    first = await browser.get("/dashboard/customers/c-1", params={"tz": "Asia/Tokyo"})
    assert first.text.count('class="item ') == 100
    assert "First page" not in first.text
    found = re.search(r'href="(\?tz=Asia/Tokyo&amp;cursor=[^"]+)" *>Next page', first.text)
    assert found, "no link to the next page"
    second = await browser.get("/dashboard/customers/c-1" + found.group(1).replace("&amp;", "&"))
    assert second.text.count('class="item ') == 122 - 100  # 120 consents, the invitation and its message
    assert "Next page" not in second.text and "First page" in second.text


async def test_an_unknown_time_zone_is_said_next_to_its_field(
    browser: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await sent_invitation(conn, brand, external_id="c-1")
    await sign_in(browser, brand.keys["export"])
    response = await browser.get("/dashboard/customers/c-1", params={"tz": "Mars/Olympus"})
    assert response.status_code == 422
    assert 'id="tz-error"' in response.text and "Unknown time zone" in response.text
    assert "Invitation" in response.text  # still shown, in UTC


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "9999-12-31"}, "to"),
        ({"to": "0001-01-05"}, "to"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ({"from": "0001-01-01", "to": "0001-01-02", "tz": "Asia/Tokyo"}, "from"),
    ],
)
async def test_days_at_the_ends_of_the_calendar_are_said_next_to_their_field(
    browser: AsyncTestClient, brand: BrandFixture, query: dict, field: str
) -> None:
    await sign_in(browser, brand.keys["export"])
    response = await browser.get("/dashboard", params=query)
    assert response.status_code == 422, response.text
    assert re.findall(r'id="(\w+)-error"', response.text) == [field]


async def test_the_last_days_of_the_calendar_are_shown(browser: AsyncTestClient, brand: BrandFixture) -> None:
    await sign_in(browser, brand.keys["export"])
    query = {"from": "9999-12-30", "to": "9999-12-30", "tz": "Pacific/Kiritimati"}
    assert (await browser.get("/dashboard", params=query)).status_code == 200
