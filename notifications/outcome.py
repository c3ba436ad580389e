"""What a provider said about one send attempt, and about a lost attempt when asked afterwards.

Every provider adapter (Twilio, FCM, the brand webhook, the sandbox) answers a send with an `Outcome`, already
classified (`notifications.failures` holds the one table of provider codes); the send job decides from the
class alone what happens to the invitation.
"""

from __future__ import annotations

from typing import Literal

import msgspec

OutcomeKind = Literal["accepted", "transient", "permanent", "unknown"]
"""accepted: the provider has the message. transient: it certainly has not, and a later try may succeed (timeouts
before the request was sent, connection refused, 429, 5xx, Twilio 20429). permanent: it refused it for good (the
invitation fails with the code). unknown: the request may have reached the provider but no answer came (a
timeout while waiting for the response, a connection dropped mid-answer) — settled by asking the provider."""

Effect = Literal["opted_out", "phone_unreachable", "token_unregistered"]
"""What a permanent failure says about the customer: opted out of SMS at the carrier (Twilio 21610), a phone
that cannot take SMS (21211 invalid, 21614 not a mobile), a push token the app no longer has (FCM UNREGISTERED)."""


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    kind: OutcomeKind
    provider_message_id: str | None = None
    status: str | None = None
    """The provider's status of an accepted message (Twilio ``queued``/``accepted``)."""
    error_code: str | None = None
    """``twilio:21211``, ``fcm:UNREGISTERED``, ``http:503``, ``timeout``, ``connection`` …"""
    retry_after: float | None = None
    """Seconds the provider asked us to wait (``Retry-After``), for transient failures."""
    effect: Effect | None = None
    detail: str | None = None
    """The provider's message, for logs and the invitation's read-back (never contains the phone number)."""


class Found(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the provider has a message lxt lost track of (the worker died between the call and recording)."""

    kind: Literal["found", "none", "unknown"]
    """found: it has it; none: it certainly has nothing matching; unknown: it could not be asked."""
    provider_message_id: str | None = None
    status: str | None = None
