"""The brand webhook: signed deliveries a brand can verify, and each answer classed."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from notifications.webhook import sign, signature_headers, verify

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
