"""The brand webhook channel: a signed JSON POST to the URL the brand configured.

Each delivery carries three headers a brand checks before trusting it (the same check as `verify`)::

    X-Lxt-Timestamp: 1767225600
    X-Lxt-Signature: v1=<hex HMAC-SHA256 of "{timestamp}." + body, keyed with the brand's secret>
    X-Lxt-Delivery:  <the attempt's id: the same on every retry, so the brand can drop a duplicate>

The timestamp is signed with the body, so a captured delivery cannot be replayed once it is older than the
brand's tolerance (five minutes in `verify`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

import httpx

from notifications.failures import classify_http, classify_transport, retry_after_seconds
from notifications.outcome import Outcome

SIGNATURE_VERSION: Final = "v1"
USER_AGENT: Final = "lxt-webhook/1"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}."`` followed by the body."""
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_headers(secret: bytes, body: bytes, now: datetime, delivery_id: str) -> dict[str, str]:
    """The headers of one signed delivery made at `now`."""
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Lxt-Timestamp": str(timestamp),
        "X-Lxt-Signature": f"{SIGNATURE_VERSION}={sign(secret, timestamp, body)}",
        "X-Lxt-Delivery": delivery_id,
    }


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, now: datetime, tolerance: int = 300) -> bool:
    """Whether a delivery is genuine and fresh: its signature matches the body and timestamp, and the timestamp
    is within `tolerance` seconds of `now`. Header names are matched case-insensitively; a signature header may
    list several ``v1=`` values (comma-separated), any of which may match."""
    by_name = {name.lower(): value for name, value in headers.items()}
    timestamp_header = by_name.get("x-lxt-timestamp", "").strip()
    if not timestamp_header.isdigit():
        return False
    timestamp = int(timestamp_header)
    if abs(now.timestamp() - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    candidates = (part.strip() for part in by_name.get("x-lxt-signature", "").split(","))
    return any(
        hmac.compare_digest(value, expected)
        for version, _, value in (candidate.partition("=") for candidate in candidates)
        if version == SIGNATURE_VERSION
    )


async def post(
    http: httpx.AsyncClient,
    *,
    url: str,
    secret: bytes,
    payload: bytes,
    delivery_id: str,
    now: datetime,
    allow_private: bool = False,
) -> Outcome:
    """Deliver `payload` (JSON) to the brand's `url`, signed: accepted on 2xx; transient on 408, 429, 5xx, a
    timeout or a connection error (also after the body was sent: the delivery id lets the brand drop the
    duplicate a retry may make); permanent on any other answer. Redirects are not followed."""
    if not allow_private and (problem := await _private_destination(url)) is not None:
        return problem
    headers = signature_headers(secret, payload, now, delivery_id)
    try:
        # Streamed and never read: the status is all we need, whatever size of body the brand answers with.
        async with http.stream("POST", url, content=payload, headers=headers, follow_redirects=False) as response:
            status = response.status_code
            retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
            reason = response.reason_phrase or None
    except httpx.TransportError as exc:
        return classify_transport(exc, may_have_arrived="transient")
    return classify_http(status, retry_after, reason)


async def _private_destination(url: str) -> Outcome | None:
    """A permanent failure when the URL's host resolves to an address that is not public (a name may point
    inside the network even though the URL passed the check when it was set); None when every address is
    public. An unresolvable name is left to the request, which fails as a connection error."""
    host = urlsplit(url).hostname or ""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return None
    for *_, address in found:
        if not ipaddress.ip_address(address[0].split("%")[0]).is_global:
            return Outcome(kind="permanent", error_code="webhook:private_address", detail=f"{host} is not public")
    return None
