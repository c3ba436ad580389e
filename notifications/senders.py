"""Brand senders: how each brand reaches its customers per channel, and the sender a send actually uses.

A brand may configure, per channel, its own sender (``brand_senders``): an SMS From number, short code or
Twilio Messaging Service; a WhatsApp number or Messaging Service; its webhook URL; and for each a rate of its own.
A channel without one uses the global default sender from the settings. `effective_sender` resolves the two
(pure); `list_senders` reads a brand's rows (the API lists them, the send job routes by them).

The webhook signing secret is never stored: `webhook_secret` derives it from the server's signing key, the
brand and the row's ``secret_version``, which rotating increments. Deleting the webhook sender keeps its row
(without a URL) so that the version carries on, and a sender created again never re-issues a secret handed out
before.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Collection
from datetime import datetime
from typing import Annotated, ClassVar, Final, Literal, Protocol
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import msgspec
from msgspec import Meta

from customers.contact import normalize_phone
from notifications.ratelimit import RateDefaults, default_rate
from plumbing.errors import DefinitionInvalid, FieldError

SenderChannel = Literal["sms", "whatsapp", "push", "webhook"]
CHANNELS: Final[tuple[SenderChannel, ...]] = ("sms", "whatsapp", "push", "webhook")

Rate = Annotated[
    float,
    Meta(ge=0.1, le=10_000, description="Messages per second (SMS: segments) this sender may send, 0.1–10000."),
]
MessagingServiceSid = Annotated[
    str, Meta(pattern="^MG[0-9a-fA-F]{32}$", description="A Twilio Messaging Service SID: `MG` and 32 hex digits.")
]
WHATSAPP_PREFIX: Final = "whatsapp:"
_SHORT_CODE = re.compile(r"^[0-9]{5,6}$")
_LOCAL_HOSTS = {"localhost", "127.0.0.1"}
_RETIRED: Final = "'{}'::jsonb"
"""The config of a deleted webhook sender's row, kept for its secret version."""


class _Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True, omit_defaults=True):
    """A channel's sender configuration, as a brand puts it (the path names the channel) and as stored in
    ``brand_senders.config``."""

    channel: ClassVar[SenderChannel]
    rate_per_second: Rate | None = None
    """The brand's own rate for this sender; by default the rate of the sender's kind (see the README)."""


class SmsSender(_Config):
    """Exactly one of `from` and `messaging_service_sid`."""

    channel = "sms"

    from_: (
        Annotated[
            str,
            Meta(
                max_length=32,
                description="The From number in E.164 (e.g. `+14155550100`), or a 5–6 digit short code.",
            ),
        ]
        | None
    ) = msgspec.field(default=None, name="from")
    messaging_service_sid: MessagingServiceSid | None = None


class WhatsAppSender(_Config):
    """Exactly one of `from` and `messaging_service_sid`."""

    channel = "whatsapp"

    from_: (
        Annotated[
            str,
            Meta(
                max_length=48,
                description="The WhatsApp business number in E.164; a `whatsapp:` prefix is accepted and dropped.",
            ),
        ]
        | None
    ) = msgspec.field(default=None, name="from")
    messaging_service_sid: MessagingServiceSid | None = None


class PushSender(_Config):
    """Push goes out through the server's Firebase project; a brand can only set its rate."""

    channel = "push"


class WebhookSender(_Config):
    channel = "webhook"
    url: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=2000,
            description="Where invitations are POSTed: `https://`, or `http://` to `localhost`/`127.0.0.1` only.",
        ),
    ]


SenderConfig = SmsSender | WhatsAppSender | PushSender | WebhookSender
CONFIG_TYPES: Final[dict[str, type[SenderConfig]]] = {
    "sms": SmsSender,
    "whatsapp": WhatsAppSender,
    "push": PushSender,
    "webhook": WebhookSender,
}


class SenderInvalid(DefinitionInvalid):
    title = "Invalid sender"


def check_sender(config: SenderConfig, *, allow_private: bool = False) -> SenderConfig:
    """What msgspec cannot check: one sender address, dialable numbers, the webhook URL's scheme and host (a
    public one unless `allow_private`). Returns the config normalised (numbers in E.164, no ``whatsapp:``
    prefix); raises `SenderInvalid`."""
    errors: list[FieldError] = []
    changes: dict[str, str] = {}
    if isinstance(config, SmsSender | WhatsAppSender):
        if (config.from_ is None) == (config.messaging_service_sid is None):
            where = "" if config.from_ is None else "/messaging_service_sid"
            errors.append(FieldError(where, "give exactly one of `from` and `messaging_service_sid`"))
        elif config.from_ is not None:
            number = _sender_number(config)
            if number is None:
                errors.append(FieldError("/from", _number_problem(config)))
            else:
                changes["from_"] = number
    elif isinstance(config, WebhookSender):
        problem = _url_problem(config.url, allow_private)
        if problem:
            errors.append(FieldError("/url", problem))
    if errors:
        raise SenderInvalid(errors)
    return msgspec.structs.replace(config, **changes) if changes else config


def _sender_number(config: SmsSender | WhatsAppSender) -> str | None:
    raw = (config.from_ or "").strip()
    if isinstance(config, SmsSender) and _SHORT_CODE.match(raw):
        return raw
    if isinstance(config, WhatsAppSender) and raw.lower().startswith(WHATSAPP_PREFIX):
        raw = raw[len(WHATSAPP_PREFIX) :]
    return normalize_phone(raw)


def _number_problem(config: SmsSender | WhatsAppSender) -> str:
    if isinstance(config, SmsSender):
        return (
            "not a sender lxt can send from: give a number in E.164 (e.g. +14155550100) or a 5–6 digit short code"
        )
    return "not a WhatsApp number: give it in E.164, e.g. +14155550100 (or whatsapp:+14155550100)"


def _url_problem(url: str, allow_private: bool) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        return "not a URL"
    if not host:
        return "needs a host, e.g. https://example.com/lxt"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials; verify requests by their signature instead"
    if not allow_private and not public_host(host):
        return PRIVATE_PROBLEM
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOCAL_HOSTS):
        return None
    if parts.scheme == "http":
        return "must be https (plain http only to localhost or 127.0.0.1)"
    return "must be an https URL"


PRIVATE_PROBLEM: Final = (
    "points at a loopback, private or link-local address: lxt calls only public addresses "
    "(LXT_WEBHOOK_ALLOW_PRIVATE=true allows others, for development)"
)


def public_host(host: str) -> bool:
    """False for ``localhost`` names and for IP literals that are not globally routable (loopback, private,
    link-local — cloud metadata endpoints live there —, reserved); names are checked again, resolved, when a
    webhook is called (`notifications.webhook.post`)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return False
    try:
        return ipaddress.ip_address(name).is_global
    except ValueError:
        return True


# --- The sender a send uses ---------------------------------------------------------------------------------


class SenderSettings(Protocol):
    """The settings the global default senders come from (`server.settings.Settings` has them)."""

    @property
    def twilio_from_number(self) -> str: ...
    @property
    def twilio_messaging_service_sid(self) -> str: ...
    @property
    def twilio_whatsapp_from(self) -> str: ...
    @property
    def fcm_project_id(self) -> str: ...
    @property
    def rate_messaging_service(self) -> float: ...
    @property
    def rate_push(self) -> float: ...
    @property
    def rate_webhook(self) -> float: ...


class SenderDefaults(msgspec.Struct, frozen=True, kw_only=True):
    """The global default sender of each channel ("" where none is configured: the sandbox), and default rates."""

    sms: str = ""
    whatsapp: str = ""
    push: str = ""
    rates: RateDefaults = RateDefaults()

    @classmethod
    def from_settings(cls, settings: SenderSettings) -> SenderDefaults:
        return cls(
            # A Messaging Service is used instead of the From number when both are set.
            sms=settings.twilio_messaging_service_sid or settings.twilio_from_number,
            whatsapp=settings.twilio_whatsapp_from.removeprefix(WHATSAPP_PREFIX),
            push=settings.fcm_project_id,
            rates=RateDefaults(
                messaging_service=settings.rate_messaging_service,
                push=settings.rate_push,
                webhook=settings.rate_webhook,
            ),
        )


class Sender(msgspec.Struct, frozen=True, kw_only=True):
    """Who a channel's messages go out from, and how fast."""

    channel: SenderChannel
    address: str
    """SMS: a From number (E.164) or short code, or a Messaging Service SID (``MG…``); WhatsApp: a number
    (E.164, without ``whatsapp:``) or a Messaging Service SID; push: the Firebase project; webhook: the URL.
    Empty when nothing is configured (the channel's sandbox; a webhook cannot be sent)."""
    rate_per_second: float
    """The brand's own rate, else `default_rate` of the address (``inf`` for the sandbox)."""
    source: Literal["brand", "default", "none"]
    """Whether the brand configured this channel, or the global default applies, or neither does."""

    @property
    def messaging_service(self) -> bool:
        """Send with ``MessagingServiceSid`` rather than ``From``."""
        return self.address.startswith("MG")


def effective_sender(
    channel: SenderChannel, brand_config: SenderConfig | None, defaults: SenderDefaults
) -> Sender:
    """The sender of `channel` for a brand with `brand_config` (its row, if any): the brand's > the default."""
    if brand_config is not None and brand_config.channel != channel:
        raise ValueError(f"a {brand_config.channel} sender is not one for {channel}")
    default = {"sms": defaults.sms, "whatsapp": defaults.whatsapp, "push": defaults.push, "webhook": ""}[channel]
    if isinstance(brand_config, SmsSender | WhatsAppSender):
        address = brand_config.from_ or brand_config.messaging_service_sid or ""
    elif isinstance(brand_config, WebhookSender):
        address = brand_config.url
    else:
        address = default
    own_rate = brand_config.rate_per_second if brand_config is not None else None
    return Sender(
        channel=channel,
        address=address,
        rate_per_second=own_rate if own_rate is not None else default_rate(channel, address, defaults.rates),
        source="brand" if brand_config is not None else "default" if address else "none",
    )


def webhook_secret(signing_key: str, brand_id: UUID | str, version: int) -> bytes:
    """The secret a brand's webhook requests are signed with: HMAC-SHA256(signing key, "webhook:{brand}:{version}").

    Derived, never stored: the server's signing key and the row's version are all it takes.
    """
    if not signing_key:
        raise ValueError("no signing key: set LXT_SIGNING_KEY")
    message = f"webhook:{brand_id}:{version}".encode()
    return hmac.new(signing_key.encode(), message, hashlib.sha256).digest()


# --- Queries ------------------------------------------------------------------------------------------------


class StoredSender(msgspec.Struct, frozen=True, kw_only=True):
    """A brand's sender row."""

    config: SenderConfig
    secret_version: int
    created_at: datetime
    updated_at: datetime


def _config(channel: str, stored: object) -> SenderConfig:
    return msgspec.convert(stored, CONFIG_TYPES[channel])


def _stored(row: asyncpg.Record) -> StoredSender:
    return StoredSender(
        config=_config(row["channel"], row["config"]),
        secret_version=row["secret_version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


_COLUMNS = "channel, config, secret_version, created_at, updated_at"


async def list_senders(conn: asyncpg.Connection, brand_id: UUID) -> list[StoredSender]:
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM brand_senders WHERE brand_id = $1 AND config <> {_RETIRED}
        ORDER BY array_position($2::text[], channel)
        """,
        brand_id,
        list(CHANNELS),
    )
    return [_stored(row) for row in rows]


async def put_sender(conn: asyncpg.Connection, brand_id: UUID, config: SenderConfig) -> tuple[StoredSender, bool]:
    """Create or replace the brand's sender of the config's channel; True when created. A webhook sender created
    again after a delete gets the next secret version."""
    stored = msgspec.to_builtins(config)
    channel = config.channel
    row = await conn.fetchrow(
        f"""
        WITH previous AS (
            SELECT config FROM brand_senders WHERE brand_id = $1 AND channel = $2 AND config <> {_RETIRED}
        )
        INSERT INTO brand_senders AS s (brand_id, channel, config) VALUES ($1, $2, $3)
        ON CONFLICT (brand_id, channel) DO UPDATE
        SET config = EXCLUDED.config, updated_at = now(),
            secret_version = s.secret_version + (s.config = {_RETIRED})::int
        RETURNING {_COLUMNS}, NOT EXISTS (SELECT FROM previous) AS created
        """,
        brand_id,
        channel,
        stored,
    )
    assert row is not None
    return _stored(row), row["created"]


async def delete_sender(conn: asyncpg.Connection, brand_id: UUID, channel: SenderChannel) -> bool:
    """Remove the brand's sender of `channel` (the default applies again); False when it had none."""
    if channel == "webhook":
        status = await conn.execute(
            f"""
            UPDATE brand_senders SET config = {_RETIRED}, updated_at = now()
            WHERE brand_id = $1 AND channel = 'webhook' AND config <> {_RETIRED}
            """,
            brand_id,
        )
    else:
        status = await conn.execute(
            "DELETE FROM brand_senders WHERE brand_id = $1 AND channel = $2", brand_id, channel
        )
    return not status.endswith(" 0")


async def rotate_webhook_secret(conn: asyncpg.Connection, brand_id: UUID) -> int | None:
    """Move the brand's webhook sender to its next secret version; None when it has no webhook sender."""
    version: int | None = await conn.fetchval(
        f"""
        UPDATE brand_senders SET secret_version = secret_version + 1, updated_at = now()
        WHERE brand_id = $1 AND channel = 'webhook' AND config <> {_RETIRED}
        RETURNING secret_version
        """,
        brand_id,
    )
    return version


async def pacing_inputs(
    conn: asyncpg.Connection, brand_ids: Collection[UUID]
) -> dict[UUID, tuple[dict[str, SenderConfig], list[str]]]:
    """Per brand: its own senders by channel, and the first channel of each of its active triggers (the channel
    its invitations go out on when the customer is reachable there). Brands with neither are absent."""
    ids = list(brand_ids)
    found: dict[UUID, tuple[dict[str, SenderConfig], list[str]]] = {}
    senders = await conn.fetch(
        f"SELECT brand_id, channel, config FROM brand_senders WHERE brand_id = ANY($1::uuid[]) AND config <> {_RETIRED}",
        ids,
    )
    for row in senders:
        found.setdefault(row["brand_id"], ({}, []))[0][row["channel"]] = _config(row["channel"], row["config"])
    # The triggers' definitions are stored whole, defaults included, so `channels` is always there.
    firsts = await conn.fetch(
        """
        SELECT brand_id, array_agg(DISTINCT definition->'channels'->>0) AS channels FROM triggers
        WHERE brand_id = ANY($1::uuid[]) AND active GROUP BY brand_id
        """,
        ids,
    )
    for row in firsts:
        found.setdefault(row["brand_id"], ({}, []))[1].extend(c for c in row["channels"] if c)
    return found
