"""FCM HTTP v1 with a service account's tokens, against a fake FCM (and its token endpoint) on a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from notifications.fcm import Fcm
from notifications.outcome import Outcome
from tests.fakes.fcm import FakeFcm

TOKEN = "dGhpcyBpcyBhIHJlZ2lzdHJhdGlvbiB0b2tlbg:APA91b-example"


class Clock:
    """A monotonic clock the test moves by hand, for the token cache."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeFcm]:
    with FakeFcm() as fake:
        yield fake


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as http:
        yield http


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fcm(fake: FakeFcm, http: httpx.AsyncClient, clock: Clock) -> Fcm:
    return Fcm(
        http, project_id=fake.project_id, credentials=fake.service_account_info(), api_base=fake.url, clock=clock
    )


async def send(fcm: Fcm, token: str = TOKEN) -> Outcome:
    return await fcm.send(token=token, title="Your visit", body="Two questions?", data={"invitation": "01J"})


async def test_a_notification_is_accepted(fcm: Fcm, fake: FakeFcm) -> None:
    outcome = await send(fcm)

    [sent] = fake.messages
    assert outcome == Outcome(kind="accepted", provider_message_id=sent["name"])
    assert sent["message"] == {
        "token": TOKEN,
        "notification": {"title": "Your visit", "body": "Two questions?"},
        "data": {"invitation": "01J"},
    }


async def test_the_collapse_key_lets_a_retry_replace_the_first_notification(fcm: Fcm, fake: FakeFcm) -> None:
    await fcm.send(token=TOKEN, title="t", body="b", data={}, collapse_key="inv-01J")

    [sent] = fake.messages
    assert sent["message"]["android"] == {"collapse_key": "inv-01J"}
    assert sent["message"]["apns"] == {"headers": {"apns-collapse-id": "inv-01J"}}


async def test_the_access_token_is_cached_across_sends(fcm: Fcm, fake: FakeFcm) -> None:
    for _ in range(3):
        assert (await send(fcm)).kind == "accepted"

    assert fake.tokens_issued == 1
    assert len({r.headers["authorization"] for r in fake.requests if r.path != "/token"}) == 1


async def test_concurrent_first_sends_share_one_token_exchange(fcm: Fcm, fake: FakeFcm) -> None:
    outcomes = await asyncio.gather(*(send(fcm) for _ in range(5)))

    assert [o.kind for o in outcomes] == ["accepted"] * 5
    assert fake.tokens_issued == 1


async def test_the_token_is_refreshed_before_it_expires(fcm: Fcm, fake: FakeFcm, clock: Clock) -> None:
    await send(fcm)
    clock.now += fake.expires_in - 120  # still well within its lifetime
    await send(fcm)
    assert fake.tokens_issued == 1

    clock.now += 90  # within the last minute: replaced before it can expire in flight
    await send(fcm)

    assert fake.tokens_issued == 2
    assert len(fake.messages) == 3


async def test_a_token_fcm_refuses_is_refreshed_once(fcm: Fcm, fake: FakeFcm) -> None:
    await send(fcm)
    fake.expire_tokens()  # revoked early: our cache still thinks it valid

    outcome = await send(fcm)

    assert outcome.kind == "accepted"
    assert fake.tokens_issued == 2
    assert [r.status for r in fake.requests if r.path != "/token"] == [200, 401, 200]


async def test_an_unregistered_token(fcm: Fcm, fake: FakeFcm) -> None:
    fake.unregister(TOKEN)

    outcome = await send(fcm)

    assert (outcome.kind, outcome.error_code, outcome.effect) == (
        "permanent",
        "fcm:UNREGISTERED",
        "token_unregistered",
    )
    assert fake.messages == []


async def test_an_invalid_token_is_permanent(fcm: Fcm, fake: FakeFcm) -> None:
    outcome = await send(fcm, token=" ")

    assert (outcome.kind, outcome.error_code, outcome.effect) == ("permanent", "fcm:INVALID_ARGUMENT", None)
    assert outcome.detail == "The registration token is not a valid FCM registration token"


@pytest.mark.parametrize(
    ("error_code", "kind"),
    [("SENDER_ID_MISMATCH", "permanent"), ("THIRD_PARTY_AUTH_ERROR", "permanent"), ("INTERNAL", "transient")],
)
async def test_fcm_refusals(fcm: Fcm, fake: FakeFcm, error_code: str, kind: str) -> None:
    fake.fail_next(error_code=error_code)

    outcome = await send(fcm)

    assert (outcome.kind, outcome.error_code) == (kind, f"fcm:{error_code}")
    # APNs credentials are not ours to refresh: a THIRD_PARTY_AUTH_ERROR 401 is not retried.
    assert fake.tokens_issued == 1


async def test_quota_exceeded_is_transient_with_retry_after(fcm: Fcm, fake: FakeFcm) -> None:
    fake.fail_next(error_code="QUOTA_EXCEEDED", retry_after=30)

    outcome = await send(fcm)

    assert (outcome.kind, outcome.error_code, outcome.retry_after) == ("transient", "fcm:QUOTA_EXCEEDED", 30.0)


async def test_a_key_google_does_not_know_is_permanent(fake: FakeFcm, http: httpx.AsyncClient) -> None:
    with FakeFcm() as other:
        credentials = {**other.service_account_info(), "token_uri": fake.token_uri}
    fcm = Fcm(http, project_id=fake.project_id, credentials=credentials, api_base=fake.url)

    outcome = await send(fcm)

    assert (outcome.kind, outcome.error_code) == ("permanent", "oauth:invalid_grant")
    assert fake.messages == []


async def test_no_answer_in_time_is_transient(fake: FakeFcm) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.3)) as http:
        fcm = Fcm(http, project_id=fake.project_id, credentials=fake.service_account_info(), api_base=fake.url)
        fake.delay(2)

        outcome = await send(fcm)

    assert (outcome.kind, outcome.error_code) == ("transient", "timeout")
