"""Twilio through the official library over lxt's httpx client, against a fake Twilio on a real socket."""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest
import pytest_asyncio

from notifications.outcome import Found, Outcome
from notifications.twilio import Twilio, TwilioSender
from tests.fakes.twilio import FakeTwilio

CUSTOMER = "+447700900123"
NUMBER = TwilioSender(from_="+15005550006")
CALLBACK = "https://lxt.example/v1/twilio/status"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as http:
        yield http


@pytest.fixture
def twilio(fake: FakeTwilio, http: httpx.AsyncClient) -> Twilio:
    return Twilio(http, account_sid=fake.account_sid, auth_token=fake.auth_token, api_base=fake.url)


def basic_auth(fake: FakeTwilio, index: int = -1) -> tuple[str, str]:
    scheme, _, encoded = fake.requests[index].headers["authorization"].partition(" ")
    assert scheme == "Basic"
    username, _, password = base64.b64decode(encoded).decode().partition(":")
    return username, password


async def send_sms(twilio: Twilio, *, to: str = CUSTOMER, body: str = "How was your visit? Reply 0-10") -> Outcome:
    return await twilio.send(to=to, sender=NUMBER, body=body, status_callback=CALLBACK, validity_period=600)


async def test_an_sms_is_accepted_with_the_account_auth_token(twilio: Twilio, fake: FakeTwilio) -> None:
    outcome = await send_sms(twilio)

    [message] = fake.messages
    assert outcome == Outcome(kind="accepted", provider_message_id=message["sid"], status="queued")
    assert message["params"] == {
        "To": CUSTOMER,
        "From": "+15005550006",
        "Body": "How was your visit? Reply 0-10",
        "StatusCallback": CALLBACK,
        "ValidityPeriod": "600",
    }
    assert basic_auth(fake) == (fake.account_sid, fake.auth_token)


async def test_an_api_key_authenticates_for_the_account(fake: FakeTwilio, http: httpx.AsyncClient) -> None:
    twilio = Twilio(
        http, account_sid=fake.account_sid, api_key=fake.api_key_sid, api_secret=fake.api_secret, api_base=fake.url
    )
    service = TwilioSender(messaging_service_sid="MG" + "0" * 32)

    outcome = await twilio.send(
        to=CUSTOMER, sender=service, body="Hi", status_callback=CALLBACK, validity_period=None
    )

    assert (outcome.kind, outcome.status) == ("accepted", "accepted")
    [message] = fake.messages
    assert message["params"]["MessagingServiceSid"] == service.messaging_service_sid
    assert "From" not in message["params"] and "ValidityPeriod" not in message["params"]
    assert basic_auth(fake) == (fake.api_key_sid, fake.api_secret)
    assert fake.requests[-1].path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"


async def test_whatsapp_sends_a_content_template_with_its_variables(twilio: Twilio, fake: FakeTwilio) -> None:
    outcome = await twilio.send(
        to=f"whatsapp:{CUSTOMER}",
        sender=TwilioSender(from_="whatsapp:+15005550006"),
        content_sid="HX" + "1" * 32,
        content_variables={"1": "Ana", "2": "Zürich store"},
        status_callback=CALLBACK,
        validity_period=None,
    )

    assert outcome.kind == "accepted"
    [message] = fake.messages
    params = message["params"]
    assert (params["To"], params["From"], params["ContentSid"]) == (
        f"whatsapp:{CUSTOMER}",
        "whatsapp:+15005550006",
        "HX" + "1" * 32,
    )
    assert json.loads(params["ContentVariables"]) == {"1": "Ana", "2": "Zürich store"}
    assert "Body" not in params


def test_a_sender_is_a_number_or_a_messaging_service() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"from_": "+15005550006", "messaging_service_sid": "MG1"}, TwilioSender)
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSender()


@pytest.mark.parametrize(
    ("code", "effect"), [(21211, "phone_unreachable"), (21614, "phone_unreachable"), (21610, "opted_out")]
)
async def test_what_twilio_says_about_the_phone(twilio: Twilio, fake: FakeTwilio, code: int, effect: str) -> None:
    fake.fail_next(status=400, code=code)

    outcome = await send_sms(twilio)

    assert (outcome.kind, outcome.error_code, outcome.effect) == ("permanent", f"twilio:{code}", effect)
    assert fake.messages == []


async def test_the_detail_never_quotes_the_recipient(twilio: Twilio, fake: FakeTwilio) -> None:
    # The fake, like Twilio, quotes an invalid 'To' in its message, however short.
    outcome = await send_sms(twilio, to="+44")

    assert (outcome.kind, outcome.error_code, outcome.effect) == ("permanent", "twilio:21211", "phone_unreachable")
    assert outcome.detail is not None and "Invalid 'To' Phone Number" in outcome.detail
    assert "+44" not in outcome.detail


async def test_wrong_credentials_are_permanent(fake: FakeTwilio, http: httpx.AsyncClient) -> None:
    twilio = Twilio(http, account_sid=fake.account_sid, auth_token="not-the-token", api_base=fake.url)

    outcome = await send_sms(twilio)

    assert (outcome.kind, outcome.error_code) == ("permanent", "twilio:20003")


async def test_too_many_requests_is_transient_with_twilios_retry_after(twilio: Twilio, fake: FakeTwilio) -> None:
    fake.fail_next(status=429, code=20429, retry_after=7)

    outcome = await send_sms(twilio)

    assert (outcome.kind, outcome.error_code, outcome.retry_after) == ("transient", "twilio:20429", 7.0)


async def test_service_unavailable_is_transient_and_the_next_try_goes_through(
    twilio: Twilio, fake: FakeTwilio
) -> None:
    fake.fail_next(status=503, code=20503)

    assert (await send_sms(twilio)).kind == "transient"
    assert (await send_sms(twilio)).kind == "accepted"
    assert len(fake.messages) == 1


async def test_a_refused_connection_is_transient(http: httpx.AsyncClient) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    twilio = Twilio(http, account_sid="AC" + "0" * 32, auth_token="token", api_base=closed)

    outcome = await send_sms(twilio)

    assert (outcome.kind, outcome.error_code) == ("transient", "connection")


async def test_a_drop_after_twilio_accepted_is_unknown_and_find_settles_it(
    twilio: Twilio, fake: FakeTwilio
) -> None:
    attempted_at = datetime.now(UTC)
    fake.fail_next_with_connection_drop(after_accepting=True)

    outcome = await send_sms(twilio, body="Rate your visit: https://lxt.example/r/tok-1")

    assert (outcome.kind, outcome.error_code) == ("unknown", "connection")
    [message] = fake.messages
    found = await twilio.find(
        to=CUSTOMER, sent_after=attempted_at, body="Rate your visit: https://lxt.example/r/tok-1"
    )
    assert found == Found(kind="found", provider_message_id=message["sid"], status="queued")


async def test_a_drop_before_twilio_accepted_is_found_to_be_nothing(twilio: Twilio, fake: FakeTwilio) -> None:
    attempted_at = datetime.now(UTC)
    fake.fail_next_with_connection_drop(after_accepting=False)

    assert (await send_sms(twilio, body="tok-2")).kind == "unknown"

    assert fake.messages == []
    assert await twilio.find(to=CUSTOMER, sent_after=attempted_at, body="tok-2") == Found(kind="none")


async def test_no_answer_in_time_is_unknown(fake: FakeTwilio, http: httpx.AsyncClient) -> None:
    twilio = Twilio(http, account_sid=fake.account_sid, auth_token=fake.auth_token, api_base=fake.url, timeout=0.2)
    fake.delay(2)

    outcome = await send_sms(twilio)

    assert (outcome.kind, outcome.error_code) == ("unknown", "timeout")


async def test_find_matches_the_exact_body_and_the_newest_message(twilio: Twilio, fake: FakeTwilio) -> None:
    attempted_at = datetime.now(UTC)
    first = await send_sms(twilio, body="link tok-3")
    second = await send_sms(twilio, body="link tok-3")
    await send_sms(twilio, body="link tok-4")
    await send_sms(twilio, to="+447700900999", body="link tok-5")

    found = await twilio.find(to=CUSTOMER, sent_after=attempted_at, body="link tok-3")

    assert first.provider_message_id != second.provider_message_id
    assert found.kind == "found"
    assert found.provider_message_id in (first.provider_message_id, second.provider_message_id)
    assert (await twilio.find(to=CUSTOMER, sent_after=attempted_at, body="link tok-5")).kind == "none"
    assert (await twilio.find(to=CUSTOMER, sent_after=attempted_at, body=None)).kind == "found"


async def test_find_ignores_messages_created_before_the_attempt(twilio: Twilio, fake: FakeTwilio) -> None:
    await send_sms(twilio, body="same text")

    later = datetime.now(UTC) + timedelta(hours=1)

    assert await twilio.find(to=CUSTOMER, sent_after=later, body="same text") == Found(kind="none")


async def test_find_is_unknown_when_twilio_cannot_list(twilio: Twilio, fake: FakeTwilio) -> None:
    attempted_at = datetime.now(UTC)
    await send_sms(twilio, body="tok-6")
    fake.fail_list(1)

    assert await twilio.find(to=CUSTOMER, sent_after=attempted_at, body="tok-6") == Found(kind="unknown")
    assert (await twilio.find(to=CUSTOMER, sent_after=attempted_at, body="tok-6")).kind == "found"


async def test_find_is_unknown_when_twilio_is_unreachable(http: httpx.AsyncClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    twilio = Twilio(http, account_sid="AC" + "0" * 32, auth_token="token", api_base=closed)

    assert await twilio.find(to=CUSTOMER, sent_after=datetime.now(UTC), body=None) == Found(kind="unknown")


async def test_find_reads_every_page(twilio: Twilio, fake: FakeTwilio) -> None:
    attempted_at = datetime.now(UTC)
    await send_sms(twilio, body="the one")
    for n in range(120):  # more than one page of 100, newer than the one looked for
        await send_sms(twilio, body=f"other {n}")

    found = await twilio.find(to=CUSTOMER, sent_after=attempted_at, body="the one")

    assert found.provider_message_id == fake.messages[0]["sid"]
    assert sum(1 for r in fake.requests if r.method == "GET") == 2


async def test_nothing_logged_names_the_phone_or_the_token(
    twilio: Twilio, fake: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    attempted_at = datetime.now(UTC)

    await send_sms(twilio)
    fake.fail_next(status=400, code=21211)
    await send_sms(twilio)
    await twilio.find(to=CUSTOMER, sent_after=attempted_at, body=None)
    fake.fail_list(1)
    await twilio.find(to=CUSTOMER, sent_after=attempted_at, body=None)

    # httpx logs each URL (a search's carries the 'To'): lxt's logging keeps httpx and httpcore at WARNING.
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.name == "lxt.twilio" for r in records), "the exchanges are logged at DEBUG"
    logged = "\n".join(record.getMessage() for record in records)
    for secret in (CUSTOMER, CUSTOMER.removeprefix("+"), "%2B447700900123", fake.auth_token):
        assert secret not in logged


async def test_find_takes_only_a_message_from_the_attempt_s_sender(twilio: Twilio, fake: FakeTwilio) -> None:
    attempted_at = datetime.now(UTC)
    other = TwilioSender(from_="+447911123999")  # another brand's number, the same text to the same phone
    await twilio.send(to=CUSTOMER, sender=other, body="Same text", status_callback=CALLBACK, validity_period=600)
    assert NUMBER.from_ is not None

    assert await twilio.find(to=CUSTOMER, sent_after=attempted_at, body="Same text", sender=NUMBER.from_) == Found(
        kind="none"
    )
    found = await twilio.find(to=CUSTOMER, sent_after=attempted_at, body="Same text", sender="+447911123999")
    assert found.kind == "found"
