"""The brand webhook: signed deliveries a brand can verify, and each answer classed."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio

from notifications.outcome import Outcome
from notifications.webhook import post, sign, signature_headers, verify
from tests.fakes.webhook import FakeWebhook

SECRET = b"whsec-test-0123456789"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
BODY = b'{"invitation_id":"01J","event":"invitation.due"}'


def test_the_signature_is_an_hmac_over_timestamp_and_body() -> None:
    expected = hmac.new(SECRET, b"1772366400." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1772366400, BODY) == expected


def test_signature_headers() -> None:
    headers = signature_headers(SECRET, BODY, NOW, "dlv_1")
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "lxt-webhook/1",
        "X-Lxt-Timestamp": "1772366400",
        "X-Lxt-Signature": f"v1={sign(SECRET, 1772366400, BODY)}",
        "X-Lxt-Delivery": "dlv_1",
    }


def test_verify_accepts_a_fresh_genuine_delivery_whatever_the_header_case() -> None:
    headers = signature_headers(SECRET, BODY, NOW, "dlv_1")
    assert verify(SECRET, headers, BODY, NOW)
    assert verify(SECRET, {k.lower(): v for k, v in headers.items()}, BODY, NOW + timedelta(seconds=299))


def test_verify_refuses_tampering_replay_and_the_wrong_secret() -> None:
    headers = signature_headers(SECRET, BODY, NOW, "dlv_1")
    assert not verify(SECRET, headers, BODY + b" ", NOW)
    assert not verify(b"another secret", headers, BODY, NOW)
    assert not verify(SECRET, headers, BODY, NOW + timedelta(seconds=301))
    assert not verify(SECRET, headers, BODY, NOW - timedelta(seconds=301))
    # The timestamp is signed: moving it forward to pass the tolerance breaks the signature.
    later = NOW + timedelta(hours=1)
    assert not verify(SECRET, {**headers, "X-Lxt-Timestamp": str(int(later.timestamp()))}, BODY, later)
    assert not verify(SECRET, {**headers, "X-Lxt-Signature": "v0=" + headers["X-Lxt-Signature"][3:]}, BODY, NOW)
    assert not verify(SECRET, {"X-Lxt-Signature": headers["X-Lxt-Signature"]}, BODY, NOW)
    assert not verify(SECRET, {**headers, "X-Lxt-Timestamp": "soon"}, BODY, NOW)


def test_verify_accepts_any_of_several_signatures() -> None:
    # While a brand rotates its secret, a delivery may carry one signature per secret.
    headers = signature_headers(SECRET, BODY, NOW, "dlv_1")
    other = f"v1={sign(b'old secret', int(NOW.timestamp()), BODY)}"
    both = {**headers, "X-Lxt-Signature": f"{other}, {headers['X-Lxt-Signature']}"}
    assert verify(SECRET, both, BODY, NOW)


# -- over a socket ------------------------------------------------------------------------------------------


@pytest.fixture
def brand() -> Iterator[FakeWebhook]:
    with FakeWebhook() as fake:
        yield fake


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as http:
        yield http


async def deliver(http: httpx.AsyncClient, url: str, delivery_id: str = "dlv_1") -> Outcome:
    return await post(
        http,
        url=f"{url}/hooks/lxt",
        secret=SECRET,
        payload=BODY,
        delivery_id=delivery_id,
        now=NOW,
        allow_private=True,
    )


async def test_a_delivery_the_brand_verifies(http: httpx.AsyncClient, brand: FakeWebhook) -> None:
    outcome = await deliver(http, brand.url)

    assert outcome == Outcome(kind="accepted", status="200")
    [received] = brand.requests
    assert (received.method, received.path, received.body) == ("POST", "/hooks/lxt", BODY)
    assert verify(SECRET, received.headers, received.body, NOW + timedelta(seconds=2))
    assert received.headers["x-lxt-delivery"] == "dlv_1"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == "lxt-webhook/1"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (202, "accepted"),
        (204, "accepted"),
        (500, "transient"),
        (503, "transient"),
        (429, "transient"),
        (408, "transient"),
        (400, "permanent"),
        (401, "permanent"),
        (410, "permanent"),
    ],
)
async def test_the_brands_answer_decides(
    http: httpx.AsyncClient, brand: FakeWebhook, status: int, kind: str
) -> None:
    brand.respond_with(status)

    outcome = await deliver(http, brand.url)

    assert outcome.kind == kind
    assert outcome.error_code == (None if kind == "accepted" else f"http:{status}")


async def test_a_redirect_is_not_followed(http: httpx.AsyncClient, brand: FakeWebhook) -> None:
    brand.respond_with(307)

    outcome = await deliver(http, brand.url)

    assert (outcome.kind, outcome.error_code) == ("permanent", "http:307")
    assert len(brand.requests) == 1


async def test_a_slow_brand_gets_the_same_delivery_again(brand: FakeWebhook) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.3)) as http:
        brand.delay(2)
        first = await deliver(http, brand.url, "dlv_7")
        brand.delay(0)
        second = await deliver(http, brand.url, "dlv_7")

    assert (first.kind, first.error_code) == ("transient", "timeout")
    assert second.kind == "accepted"
    # The body reached the brand both times: the delivery id lets it keep one.
    assert [r.headers["x-lxt-delivery"] for r in brand.requests] == ["dlv_7", "dlv_7"]


async def test_a_dropped_connection_is_transient(http: httpx.AsyncClient, brand: FakeWebhook) -> None:
    brand.drop_next()

    outcome = await deliver(http, brand.url)

    assert (outcome.kind, outcome.error_code) == ("transient", "connection")


async def test_a_brand_that_is_down_is_transient(http: httpx.AsyncClient) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"

    outcome = await deliver(http, closed)

    assert (outcome.kind, outcome.error_code) == ("transient", "connection")


async def test_a_webhook_on_a_private_address_is_never_called(http: httpx.AsyncClient, brand: FakeWebhook) -> None:
    outcome = await post(
        http, url=f"{brand.url}/hooks/lxt", secret=SECRET, payload=BODY, delivery_id="d-1", now=NOW
    )
    assert (outcome.kind, outcome.error_code) == ("permanent", "webhook:private_address")
    assert brand.requests == []
