"""Which provider carries each channel, from which sender, at what rate — and the calls to them.

A worker builds one `Providers` at start from its settings: Twilio when an account SID and credentials are set,
FCM when a project and its service-account file are, the brand's own webhook when the server has a signing key
and the brand a URL. A channel without its provider goes to the **sandbox**: rendered exactly as it would be
sent and recorded in ``messages`` with provider ``sandbox``, so a brand can build and test its integration end
to end without texting real phones (`GET /v1/sandbox/messages`, `lxt sandbox outbox`).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec

from notifications import ratelimit, senders, webhook
from notifications.channels import MASK, TEMPLATE, Message, link_token_hash
from notifications.fcm import Fcm
from notifications.outcome import Found, Outcome
from notifications.receipts import status_callback_url
from notifications.twilio import Twilio, TwilioSender
from plumbing.ids import new_id
from triggers.model import Channel

SANDBOX: Final = "sandbox"
SENDERS_CACHED: Final = 5.0
"""Seconds a worker keeps a brand's senders: a changed sender is used from this long after the change on."""
FIND_SKEW: Final = timedelta(seconds=30)
"""How much earlier than the attempt's record the provider's timestamp of the message may be (clocks differ)."""
_LINK_TOKEN = re.compile(r"/s/([A-Za-z0-9_-]{43})")


class Route(msgspec.Struct, frozen=True, kw_only=True):
    """How one message travels: the provider, its sender, and the rate budget it draws from."""

    channel: Channel
    provider: str
    sender: str | None = None
    """From number / Messaging Service SID / FCM project / webhook URL, as recorded on the message."""
    twilio_sender: TwilioSender | None = None
    rate_key: str | None = None
    rate_per_second: float | None = None
    webhook_url: str | None = None
    webhook_secret: bytes | None = None


class BrandSenders(msgspec.Struct, frozen=True, kw_only=True):
    """A brand's own senders by channel, and its webhook secret's version."""

    brand_id: UUID
    configs: dict[str, senders.SenderConfig]
    webhook_version: int | None = None


class Providers:
    """The worker's providers, shared by its jobs (one per process, in the job ``ctx``)."""

    def __init__(
        self,
        *,
        base_url: str,
        defaults: senders.SenderDefaults,
        twilio: Twilio | None = None,
        fcm: Fcm | None = None,
        http: Any = None,
        signing_key: str = "",
        webhook_allow_private: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.defaults = defaults
        self.twilio = twilio
        self.fcm = fcm
        self.http = http
        self.signing_key = signing_key
        self.webhook_allow_private = webhook_allow_private
        self._senders: dict[UUID, tuple[BrandSenders, float]] = {}

    async def brand_senders(self, conn: asyncpg.Connection, brand_id: UUID) -> BrandSenders:
        """The brand's own senders, read at most every `SENDERS_CACHED` seconds per worker process."""
        cached = self._senders.get(brand_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        stored = await senders.list_senders(conn, brand_id)  # one query: the configs and the webhook's version
        found_senders = BrandSenders(
            brand_id=brand_id,
            configs={row.config.channel: row.config for row in stored},
            webhook_version=next((row.secret_version for row in stored if row.config.channel == "webhook"), None),
        )
        if len(self._senders) >= 10_000:
            self._senders.clear()
        self._senders[brand_id] = (found_senders, time.monotonic() + SENDERS_CACHED)
        return found_senders

    def route(self, channel: Channel, brand: BrandSenders) -> Route:
        """The route of `channel` for `brand`: the brand's own sender, else the global default, else the
        sandbox."""
        if channel in ("sms", "web_link", "whatsapp"):
            kind: senders.SenderChannel = "whatsapp" if channel == "whatsapp" else "sms"
            sender = senders.effective_sender(kind, brand.configs.get(kind), self.defaults)
            if self.twilio is None or not sender.address:
                return Route(channel=channel, provider=SANDBOX, sender=sender.address or None)
            if sender.messaging_service:
                twilio_sender = TwilioSender(messaging_service_sid=sender.address)
            else:
                twilio_sender = TwilioSender(
                    from_=f"whatsapp:{sender.address}" if kind == "whatsapp" else sender.address
                )
            return self._limited(channel, "twilio", sender, twilio_sender=twilio_sender)
        if channel == "push":
            sender = senders.effective_sender("push", brand.configs.get("push"), self.defaults)
            if self.fcm is None or not sender.address:
                return Route(channel=channel, provider=SANDBOX, sender=sender.address or None)
            return self._limited(channel, "fcm", sender)
        sender = senders.effective_sender("webhook", brand.configs.get("webhook"), self.defaults)
        if not sender.address or brand.webhook_version is None or not self.signing_key:
            return Route(channel=channel, provider=SANDBOX, sender=sender.address or None)
        return self._limited(
            channel,
            "webhook",
            sender,
            webhook_url=sender.address,
            webhook_secret=senders.webhook_secret(self.signing_key, brand.brand_id, brand.webhook_version),
        )

    @staticmethod
    def _limited(channel: Channel, provider: str, sender: senders.Sender, **more: Any) -> Route:
        return Route(
            channel=channel,
            provider=provider,
            sender=sender.address,
            rate_key=ratelimit.rate_key(sender.channel, sender.address),
            rate_per_second=sender.rate_per_second,
            **more,
        )

    @staticmethod
    async def take_budget(redis: Any, route: Route, cost: int) -> float:
        """Seconds to wait before `route` has budget for `cost` units (0: taken), shared by every worker through
        the queue's Valkey (`redis`)."""
        if route.rate_key is None or route.rate_per_second is None:
            return 0.0
        return await ratelimit.take(redis, route.rate_key, route.rate_per_second, cost)

    async def send(
        self, route: Route, message: Message, *, brand_id: UUID, invitation_id: str, message_id: str, validity: int
    ) -> Outcome:
        if route.provider == "twilio":
            assert self.twilio is not None and route.twilio_sender is not None
            return await self.twilio.send(
                to=message.recipient,
                sender=route.twilio_sender,
                body=None if message.content_sid else message.text,
                content_sid=message.content_sid,
                content_variables=message.content_variables,
                status_callback=status_callback_url(self.base_url, brand_id, message_id),
                validity_period=validity,
            )
        if route.provider == "fcm":
            assert self.fcm is not None
            return await self.fcm.send(
                token=message.recipient,
                title=message.push_title or "",
                body=message.text,
                data=message.push_data or {},
                # A push retried after an answer that never came replaces the first on the phone, if it arrived.
                collapse_key=invitation_id,
            )
        if route.provider == "webhook":
            assert route.webhook_url is not None and route.webhook_secret is not None
            return await webhook.post(
                self.http,
                url=route.webhook_url,
                secret=route.webhook_secret,
                payload=message.text.encode(),
                # The invitation, not the attempt: a retried delivery carries the same id, so the brand can drop
                # a duplicate.
                delivery_id=invitation_id,
                now=datetime.now(UTC),
                allow_private=self.webhook_allow_private,
            )
        return Outcome(kind="accepted", provider_message_id=f"SB{new_id().replace('-', '')}", status="accepted")

    async def find(
        self,
        provider: str,
        *,
        recipient: str,
        stored_body: str,
        token_hash: bytes | None,
        attempted_at: datetime,
        sender: str | None = None,
    ) -> Found:
        """Whether `provider` has the message of an attempt whose outcome lxt does not know (the worker died, or
        the provider's answer never came): found, certainly none, or unknown (it cannot be asked, or did not
        answer)."""
        if provider == SANDBOX:
            return Found(kind="none")  # the sandbox is lxt itself: an attempt it took is never left pending
        if provider == "webhook":
            # The brand's endpoint cannot be asked, but a delivery again carries the same delivery id (the
            # invitation's), which the brand deduplicates on: sending again is safe.
            return Found(kind="none")
        if provider == "twilio" and self.twilio is not None:
            return await self.twilio.find(
                to=recipient,
                sent_after=attempted_at - FIND_SKEW,
                matches=lambda body: body_matches(stored_body, token_hash, body),
                sender=sender,
            )
        return Found(kind="unknown")  # FCM has no way to look a message up


def body_matches(stored_body: str, token_hash: bytes | None, sent_body: str) -> bool:
    """Whether a message the provider has (`sent_body`) is the one stored as `stored_body`, whose link token is
    masked and known only by its hash."""
    if stored_body.startswith(TEMPLATE):
        # The provider stores the template as rendered, which lxt never sees: any message to the recipient since
        # the attempt counts (the trigger's frequency rules keep two within minutes of each other rare).
        return True
    if token_hash is None:
        return sent_body == stored_body
    found = _LINK_TOKEN.search(sent_body)
    return (
        found is not None
        and link_token_hash(found.group(1)) == token_hash
        and sent_body.replace(found.group(1), MASK) == stored_body
    )
