"""The one table of provider failures: which codes mean "try again later" and which mean "never".

Every adapter (Twilio, FCM, the brand webhook) turns what its provider said into an `Outcome` here, so the send
job decides from the class alone, and a code's class is changed in one place. Each code names its source: the
Twilio error dictionary (https://www.twilio.com/docs/errors/NNNNN) or the FCM HTTP v1 ``ErrorCode`` reference
(https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode). Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, Literal, NamedTuple

import httpx

from notifications.outcome import Effect, Outcome

Class = Literal["transient", "permanent"]


class Rule(NamedTuple):
    kind: Class
    effect: Effect | None = None


TRANSIENT: Final = Rule("transient")
PERMANENT: Final = Rule("permanent")

TWILIO: Final[dict[int, Rule]] = {
    # Account and API: https://www.twilio.com/docs/errors/20003 — bad Account SID / Auth Token / API key.
    20003: PERMANENT,
    # https://www.twilio.com/docs/errors/20404 — the resource (Messaging Service, account) does not exist.
    20404: PERMANENT,
    # https://www.twilio.com/docs/errors/20429 — Too Many Requests (API concurrency limit).
    20429: TRANSIENT,
    # https://www.twilio.com/docs/errors/20500 — Internal Server Error.
    20500: TRANSIENT,
    # https://www.twilio.com/docs/errors/20503 — Service Unavailable.
    20503: TRANSIENT,
    # The recipient. https://www.twilio.com/docs/errors/21211 — invalid 'To' phone number.
    21211: Rule("permanent", "phone_unreachable"),
    # https://www.twilio.com/docs/errors/21614 — 'To' is not a mobile number (cannot take SMS).
    21614: Rule("permanent", "phone_unreachable"),
    # https://www.twilio.com/docs/errors/21635 — 'To' is a landline (split out of 21614 in 2024).
    21635: Rule("permanent", "phone_unreachable"),
    # https://www.twilio.com/docs/errors/21610 — the recipient replied STOP to this sender: opted out at Twilio.
    21610: Rule("permanent", "opted_out"),
    # https://www.twilio.com/docs/errors/21408 — permission to send to this region is not enabled.
    21408: PERMANENT,
    # https://www.twilio.com/docs/errors/21612 — this 'To' cannot be reached from this sender.
    21612: PERMANENT,
    # https://www.twilio.com/docs/errors/21608 — trial account: 'To' is not a verified number.
    21608: PERMANENT,
    # The sender. https://www.twilio.com/docs/errors/21606 — 'From' cannot send messages to this destination.
    21606: PERMANENT,
    # https://www.twilio.com/docs/errors/21659 — 'From' is not a Twilio number (or not this account's).
    21659: PERMANENT,
    # https://www.twilio.com/docs/errors/21611 — the From number's queue is full: it drains by itself.
    21611: TRANSIENT,
    # The message. https://www.twilio.com/docs/errors/21602 — Body (or ContentSid) is required.
    21602: PERMANENT,
    # https://www.twilio.com/docs/errors/21617 — Body longer than 1,600 characters.
    21617: PERMANENT,
    # https://www.twilio.com/docs/errors/21655 — ContentSid is not a valid content template of this account.
    21655: PERMANENT,
    # https://www.twilio.com/docs/errors/21656 — ContentVariables is invalid.
    21656: PERMANENT,
    # WhatsApp. https://www.twilio.com/docs/errors/63016 — free-form message outside the 24 h window (needs
    # an approved template sent by ContentSid).
    63016: PERMANENT,
    # https://www.twilio.com/docs/errors/63018 — rate limit exceeded for the channel: it clears by itself.
    63018: TRANSIENT,
}
"""Twilio error codes of the Messages API. A code not listed is classed by its HTTP status (see
`classify_twilio`)."""

FCM: Final[dict[str, Rule]] = {
    # https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode — UNREGISTERED (404): the app instance
    # was unregistered or the token expired; it must not be used again.
    "UNREGISTERED": Rule("permanent", "token_unregistered"),
    # INVALID_ARGUMENT (400): a malformed token or message (too big, reserved data key …).
    "INVALID_ARGUMENT": PERMANENT,
    # SENDER_ID_MISMATCH (403): the token belongs to another Firebase project.
    "SENDER_ID_MISMATCH": PERMANENT,
    # THIRD_PARTY_AUTH_ERROR (401): the APNs certificate or web push key is invalid or missing.
    "THIRD_PARTY_AUTH_ERROR": PERMANENT,
    # QUOTA_EXCEEDED (429): project, device or topic rate exceeded; back off (Retry-After when given).
    "QUOTA_EXCEEDED": TRANSIENT,
    # UNAVAILABLE (503): the server is overloaded; retry with back-off, honouring Retry-After.
    "UNAVAILABLE": TRANSIENT,
    # INTERNAL (500): an unknown internal error; retry with back-off.
    "INTERNAL": TRANSIENT,
}
"""FCM v1 error codes (the ``errorCode`` of the ``google.firebase.fcm.v1.FcmError`` detail). ``UNSPECIFIED_ERROR``
and codes not listed are classed by their HTTP status."""

_PHONE_NUMBER = re.compile(r"\+?\d[\d ().\-]{5,}\d")


def without_numbers(text: str | None) -> str | None:
    """`text` with anything that looks like a phone number masked: providers quote the 'To' in their messages."""
    return None if text is None else _PHONE_NUMBER.sub("…", text)


def by_status(http_status: int) -> Class:
    """The class of a bare HTTP failure: 408, 429 and 5xx may succeed later; other answers will not."""
    return "transient" if http_status in (408, 429) or http_status >= 500 else "permanent"


def _outcome(rule: Rule, error_code: str, retry_after: float | None, detail: str | None) -> Outcome:
    return Outcome(
        kind=rule.kind,
        error_code=error_code,
        retry_after=retry_after if rule.kind == "transient" else None,
        effect=rule.effect,
        detail=without_numbers(detail),
    )


def classify_twilio(
    http_status: int, code: int | None, retry_after: float | None, detail: str | None = None
) -> Outcome:
    """A failed Twilio API call. A listed code decides; otherwise the status does (an unknown 4xx code is
    permanent, an unknown 5xx transient, 429 transient)."""
    if code is not None and code < 10_000:  # the library puts the HTTP status there when the body had no code
        code = None
    if code is not None and code in TWILIO:
        return _outcome(TWILIO[code], f"twilio:{code}", retry_after, detail)
    error_code = f"twilio:{code}" if code is not None else f"http:{http_status}"
    return _outcome(Rule(by_status(http_status)), error_code, retry_after, detail)


def classify_fcm(
    http_status: int, error_code: str | None, retry_after: float | None, detail: str | None = None
) -> Outcome:
    """A failed FCM v1 send. A listed ``errorCode`` decides; a 404 without one is an unregistered token (FCM
    answers a deleted token with NOT_FOUND); otherwise the status does."""
    if error_code is not None and error_code in FCM:
        return _outcome(FCM[error_code], f"fcm:{error_code}", retry_after, detail)
    if http_status == 404:
        return _outcome(FCM["UNREGISTERED"], "http:404", retry_after, detail)
    code = f"fcm:{error_code}" if error_code and error_code != "UNSPECIFIED_ERROR" else f"http:{http_status}"
    return _outcome(Rule(by_status(http_status)), code, retry_after, detail)


def classify_http(http_status: int, retry_after: float | None, detail: str | None = None) -> Outcome:
    """A brand webhook's answer: 2xx accepted; 408, 429 and 5xx transient; anything else permanent (redirects
    are not followed: a signed delivery goes to the URL the brand configured)."""
    if 200 <= http_status < 300:
        return Outcome(kind="accepted", status=str(http_status))
    return _outcome(Rule(by_status(http_status)), f"http:{http_status}", retry_after, detail)


def classify_transport(exc: httpx.TransportError, *, may_have_arrived: Literal["unknown", "transient"]) -> Outcome:
    """A request that got no HTTP answer. Failing to connect (refused, DNS, connect or pool timeout) means the
    provider certainly has nothing: transient. Failing after the request was on its way (write or read timeout,
    connection dropped) means it may have arrived: `may_have_arrived` says how the caller settles that —
    ``unknown`` when a duplicate matters and the provider can be asked (Twilio), ``transient`` when a retry is
    harmless (the webhook's delivery id, FCM's collapse key)."""
    timed_out = isinstance(exc, httpx.TimeoutException)
    error_code = "timeout" if timed_out else "connection"
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return Outcome(
        kind="transient" if never_sent else may_have_arrived,
        error_code=error_code,
        detail=type(exc).__name__,  # httpx's messages may quote the URL, and a Twilio list URL holds the 'To'
    )


def retry_after_seconds(header_value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); a date in
    the past is 0; a missing or malformed value is None."""
    if header_value is None:
        return None
    value = header_value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" (RFC 5322's "unknown zone"); HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
