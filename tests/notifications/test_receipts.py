"""What a delivery receipt makes of a message (pure): statuses move forward only, a receipt settles an attempt
still waiting for the provider's answer, and only some error codes say something about the phone."""

from datetime import UTC, datetime, timedelta

import pytest

from notifications.receipts import Delivery, advances, apply_receipt, phone_unreachable

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ACCEPTED = Delivery(
    status="accepted",
    provider_message_id="SM1",
    accepted_at=NOW - timedelta(seconds=5),
    delivery_status=None,
    delivery_error_code=None,
    delivered_at=None,
)


@pytest.mark.parametrize(
    ("current", "new", "moves"),
    [
        (None, "queued", True),
        ("queued", "sent", True),
        ("sent", "delivered", True),
        ("delivered", "sent", False),  # a late `sent`
        ("delivered", "undelivered", False),  # the first final status stays
        ("delivered", "read", True),
        ("read", "delivered", False),
        ("sent", "receiving", False),  # not a status of an outbound message's delivery
        ("something_new", "sent", True),  # an unknown stored status does not block known ones
    ],
)
def test_delivery_statuses_move_forward_only(current: str | None, new: str, moves: bool) -> None:
    assert advances(current, new) is moves


def test_a_delivered_receipt_stamps_the_delivery_once() -> None:
    delivered = apply_receipt(ACCEPTED, "twilio", "delivered", None, "SM1", NOW)
    assert (delivered.delivery_status, delivered.delivered_at) == ("delivered", NOW)
    read = apply_receipt(delivered, "twilio", "read", None, "SM1", NOW + timedelta(minutes=1))
    assert (read.delivery_status, read.delivered_at) == ("read", NOW)


def test_an_error_code_is_kept_with_its_provider() -> None:
    failed = apply_receipt(ACCEPTED, "twilio", "undelivered", "30003", "SM1", NOW)
    assert (failed.delivery_status, failed.delivery_error_code, failed.delivered_at) == (
        "undelivered",
        "twilio:30003",
        None,
    )


@pytest.mark.parametrize("waiting", ["pending", "unknown"])
def test_a_receipt_settles_an_attempt_without_the_providers_answer(waiting: str) -> None:
    pending = Delivery(
        status=waiting,
        provider_message_id=None,
        accepted_at=None,
        delivery_status=None,
        delivery_error_code=None,
        delivered_at=None,
    )
    settled = apply_receipt(pending, "twilio", "sent", None, "SM9", NOW)
    assert (settled.status, settled.provider_message_id, settled.accepted_at) == ("accepted", "SM9", NOW)


def test_a_failed_attempt_is_not_resettled() -> None:
    failed = Delivery(
        status="failed",
        provider_message_id=None,
        accepted_at=None,
        delivery_status=None,
        delivery_error_code=None,
        delivered_at=None,
    )
    assert apply_receipt(failed, "twilio", "failed", "30008", "SM9", NOW).status == "failed"


@pytest.mark.parametrize(
    ("provider", "channel", "code", "verdict"),
    [
        ("twilio", "sms", "30005", "unknown_number"),
        ("twilio", "sms", "30006", "landline"),
        ("twilio", "sms", "30003", None),  # switched off: try again another day
        ("twilio", "sms", "30004", None),  # blocked: not an opt-out
        ("twilio", "sms", "21610", None),  # unsubscribed at the carrier: not inferred from a receipt
        ("twilio", "whatsapp", "30006", None),
        ("twilio", "sms", None, None),
    ],
)
def test_only_some_codes_say_the_phone_cannot_be_reached(
    provider: str, channel: str, code: str | None, verdict: str | None
) -> None:
    assert phone_unreachable(provider, channel, code) == verdict
