"""The table of provider failures: every code lands in the class the send job acts on."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from notifications.failures import (
    classify_fcm,
    classify_http,
    classify_transport,
    classify_twilio,
    retry_after_seconds,
    without_numbers,
)
from notifications.outcome import Outcome

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "code", "kind", "effect"),
    [
        (400, 21211, "permanent", "phone_unreachable"),
        (400, 21614, "permanent", "phone_unreachable"),
        (400, 21635, "permanent", "phone_unreachable"),
        (400, 21610, "permanent", "opted_out"),
        (400, 21408, "permanent", None),
        (400, 21612, "permanent", None),
        (400, 21606, "permanent", None),
        (400, 21659, "permanent", None),
        (401, 20003, "permanent", None),
        (400, 63016, "permanent", None),
        (429, 20429, "transient", None),
        (500, 20500, "transient", None),
        (503, 20503, "transient", None),
        (400, 21611, "transient", None),
        (429, 63018, "transient", None),
    ],
)
def test_twilio_codes_of_the_table(status: int, code: int, kind: str, effect: str | None) -> None:
    outcome = classify_twilio(status, code, None)
    assert (outcome.kind, outcome.effect, outcome.error_code) == (kind, effect, f"twilio:{code}")


def test_an_unknown_twilio_code_is_classed_by_its_status() -> None:
    assert classify_twilio(400, 29999, None).kind == "permanent"
    assert classify_twilio(404, 29999, None).kind == "permanent"
    assert classify_twilio(502, 29999, None).kind == "transient"
    assert classify_twilio(429, 29999, None).kind == "transient"
    assert classify_twilio(400, 29999, None).error_code == "twilio:29999"


def test_a_twilio_failure_without_a_code_is_named_by_its_status() -> None:
    # The library puts the HTTP status in `code` when the body carried no Twilio code.
    assert classify_twilio(503, 503, 2.0) == Outcome(kind="transient", error_code="http:503", retry_after=2.0)
    assert classify_twilio(502, None, None).error_code == "http:502"


def test_retry_after_is_kept_only_for_transient_failures() -> None:
    assert classify_twilio(429, 20429, 30.0).retry_after == 30.0
    assert classify_twilio(400, 21211, 30.0).retry_after is None


def test_the_detail_never_carries_the_phone_number() -> None:
    outcome = classify_twilio(400, 21211, None, "The 'To' number +15005550001 is not a valid phone number.")
    assert outcome.detail == "The 'To' number … is not a valid phone number."
    assert without_numbers("To whatsapp:+44 7700 900123 failed") == "To whatsapp:… failed"
    assert without_numbers("error 21211 at 12:00") == "error 21211 at 12:00"


@pytest.mark.parametrize(
    ("status", "error_code", "kind", "effect"),
    [
        (404, "UNREGISTERED", "permanent", "token_unregistered"),
        (400, "INVALID_ARGUMENT", "permanent", None),
        (403, "SENDER_ID_MISMATCH", "permanent", None),
        (401, "THIRD_PARTY_AUTH_ERROR", "permanent", None),
        (429, "QUOTA_EXCEEDED", "transient", None),
        (503, "UNAVAILABLE", "transient", None),
        (500, "INTERNAL", "transient", None),
    ],
)
def test_fcm_codes_of_the_table(status: int, error_code: str, kind: str, effect: str | None) -> None:
    outcome = classify_fcm(status, error_code, None)
    assert (outcome.kind, outcome.effect, outcome.error_code) == (kind, effect, f"fcm:{error_code}")


def test_fcm_without_a_code() -> None:
    # FCM documents a plain 404 for a token that is no longer registered.
    unregistered = classify_fcm(404, None, None)
    assert (unregistered.kind, unregistered.effect, unregistered.error_code) == (
        "permanent",
        "token_unregistered",
        "http:404",
    )
    assert classify_fcm(503, "UNSPECIFIED_ERROR", 5.0) == Outcome(
        kind="transient", error_code="http:503", retry_after=5.0
    )
    assert classify_fcm(400, None, None) == Outcome(kind="permanent", error_code="http:400")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "accepted"),
        (204, "accepted"),
        (500, "transient"),
        (503, "transient"),
        (429, "transient"),
        (408, "transient"),
        (400, "permanent"),
        (404, "permanent"),
        (410, "permanent"),
        (301, "permanent"),
    ],
)
def test_webhook_answers(status: int, kind: str) -> None:
    outcome = classify_http(status, None)
    assert outcome.kind == kind
    assert outcome.error_code == (None if kind == "accepted" else f"http:{status}")


def test_transport_failures() -> None:
    refused = classify_transport(httpx.ConnectError("refused"), may_have_arrived="unknown")
    assert (refused.kind, refused.error_code) == ("transient", "connection")
    connect_timeout = classify_transport(httpx.ConnectTimeout("slow"), may_have_arrived="unknown")
    assert (connect_timeout.kind, connect_timeout.error_code) == ("transient", "timeout")
    pool_timeout = classify_transport(httpx.PoolTimeout("busy"), may_have_arrived="unknown")
    assert pool_timeout.kind == "transient"
    read_timeout = classify_transport(httpx.ReadTimeout("slow"), may_have_arrived="unknown")
    assert (read_timeout.kind, read_timeout.error_code) == ("unknown", "timeout")
    dropped = classify_transport(httpx.RemoteProtocolError("gone"), may_have_arrived="unknown")
    assert (dropped.kind, dropped.error_code) == ("unknown", "connection")
    assert classify_transport(httpx.ReadTimeout("slow"), may_have_arrived="transient").kind == "transient"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Sun, 01 Mar 2026 12:01:30 GMT", 90.0),
        ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds
