"""The brand's senders: who its invitations go out from on each channel, and how fast.

Each channel has its own ``PUT`` (its body is that channel's configuration, so the document shows each one
exactly); ``DELETE`` puts the channel back on the global default sender.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

import asyncpg
import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from msgspec import Meta

from notifications import senders
from notifications.senders import (
    CHANNELS,
    PushSender,
    SenderChannel,
    SenderConfig,
    SenderDefaults,
    SmsSender,
    StoredSender,
    WebhookSender,
    WhatsAppSender,
)
from plumbing.errors import FieldError
from server.auth import requires
from server.deps import Conn
from server.errors import ApiError, ProblemOperation, problems
from server.settings import Settings
from server.tenants import Principal

Req = Request[Principal, Principal, State]

_NO_SIGNING_KEY = (
    "webhook senders need a signing key on the server, which their signing secrets derive from: "
    "the operator sets LXT_SIGNING_KEY"
)
_WEBHOOK_PROBLEMS = {409: "The server has no `LXT_SIGNING_KEY`, which webhook signing secrets derive from."}


class ConfigOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The sender as the brand put it (normalised: numbers in E.164, no `whatsapp:` prefix)."""

    from_: str | None = msgspec.field(default=None, name="from")
    messaging_service_sid: str | None = None
    url: str | None = None
    rate_per_second: float | None = None


class SenderOut(msgspec.Struct, kw_only=True):
    """A sender the brand configured, and what it resolves to."""

    channel: SenderChannel
    config: ConfigOut
    sender: Annotated[
        str,
        Meta(
            description="The address sent from: a From number or short code, a Messaging Service SID, the "
            "Firebase project, the webhook URL; empty when no provider is configured (the sandbox)."
        ),
    ]
    rate_per_second: Annotated[
        float | None, Meta(description="The rate sends from it keep to; null: unlimited (the sandbox).")
    ]
    secret_version: Annotated[
        int | None, Meta(description="The webhook's signing secret version; null for other channels.")
    ] = None
    created_at: datetime
    updated_at: datetime


class WebhookSenderOut(SenderOut, kw_only=True):
    secret: Annotated[
        str | None,
        Meta(
            description="The signing secret (hex), in the answer that created the sender only: keep it, it is "
            "not shown again (rotate it to get a new one)."
        ),
    ] = None


class WebhookSecret(msgspec.Struct, kw_only=True):
    secret: Annotated[str, Meta(description="The new signing secret (hex); the previous one stops at once.")]
    secret_version: int


def _defaults(request: Req) -> SenderDefaults:
    return SenderDefaults.from_settings(request.app.state.settings)


def _out(request: Req, stored: StoredSender) -> SenderOut:
    channel = stored.config.channel
    effective = senders.effective_sender(channel, stored.config, _defaults(request))
    return SenderOut(
        channel=channel,
        config=msgspec.convert(msgspec.to_builtins(stored.config), ConfigOut),
        sender=effective.address,
        rate_per_second=None if math.isinf(effective.rate_per_second) else effective.rate_per_second,
        secret_version=stored.secret_version if channel == "webhook" else None,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
    )


async def _put(request: Req, conn: asyncpg.Connection, config: SenderConfig) -> Response[SenderOut]:
    stored, created = await senders.put_sender(
        conn,
        request.auth.brand_id,
        senders.check_sender(config, allow_private=request.app.state.settings.webhook_allow_private),
    )
    return Response(_out(request, stored), status_code=201 if created else 200)


def _signing_key(request: Req) -> str:
    settings: Settings = request.app.state.settings
    if not settings.signing_key:
        raise ApiError(409, _NO_SIGNING_KEY, errors=[FieldError("", _NO_SIGNING_KEY)])
    return settings.signing_key


_PUT_PROBLEMS = problems(400, 401, 403, 413, 422, 503)


def _created(model: type[SenderOut]) -> dict[int, ResponseSpec]:
    return {201: ResponseSpec(model, description="Created", generate_examples=False)}


@get(
    "/senders",
    tags=["senders"],
    opt=requires("manage"),
    summary="The brand's own senders",
    description="Channels not listed use the global default sender.",
    responses=problems(401, 403, 503),
    operation_class=ProblemOperation,
)
async def list_senders(request: Req, conn: Conn) -> list[SenderOut]:
    return [_out(request, stored) for stored in await senders.list_senders(conn, request.auth.brand_id)]


@put(
    "/senders/sms",
    tags=["senders"],
    opt=requires("manage"),
    summary="Set the brand's SMS sender",
    description="A From number (E.164) or short code, or a Twilio Messaging Service; 201 when created, 200 when "
    "replaced.",
    responses={**_created(SenderOut), **_PUT_PROBLEMS},
    operation_class=ProblemOperation,
)
async def put_sms_sender(request: Req, conn: Conn, data: JSONBody[SmsSender]) -> Response[SenderOut]:
    return await _put(request, conn, data)


@put(
    "/senders/whatsapp",
    tags=["senders"],
    opt=requires("manage"),
    summary="Set the brand's WhatsApp sender",
    description="A WhatsApp business number (E.164) or a Twilio Messaging Service; 201 when created, 200 when "
    "replaced.",
    responses={**_created(SenderOut), **_PUT_PROBLEMS},
    operation_class=ProblemOperation,
)
async def put_whatsapp_sender(request: Req, conn: Conn, data: JSONBody[WhatsAppSender]) -> Response[SenderOut]:
    return await _put(request, conn, data)


@put(
    "/senders/push",
    tags=["senders"],
    opt=requires("manage"),
    summary="Set the brand's push rate",
    description="201 when created, 200 when replaced.",
    responses={**_created(SenderOut), **_PUT_PROBLEMS},
    operation_class=ProblemOperation,
)
async def put_push_sender(request: Req, conn: Conn, data: JSONBody[PushSender]) -> Response[SenderOut]:
    return await _put(request, conn, data)


@put(
    "/senders/webhook",
    tags=["senders"],
    opt=requires("manage"),
    summary="Set the brand's webhook",
    description="The answer that creates it (201) carries the signing secret, once; replacing the URL (200) keeps "
    "the secret. Needs `LXT_SIGNING_KEY` on the server.",
    responses={
        **_created(WebhookSenderOut),
        **problems(400, 401, 403, 413, 422, 503, described=_WEBHOOK_PROBLEMS),
    },
    operation_class=ProblemOperation,
)
async def put_webhook_sender(
    request: Req, conn: Conn, data: JSONBody[WebhookSender]
) -> Response[WebhookSenderOut]:
    signing_key = _signing_key(request)
    stored, created = await senders.put_sender(
        conn,
        request.auth.brand_id,
        senders.check_sender(data, allow_private=request.app.state.settings.webhook_allow_private),
    )
    secret = senders.webhook_secret(signing_key, request.auth.brand_id, stored.secret_version) if created else None
    out = WebhookSenderOut(
        **msgspec.structs.asdict(_out(request, stored)), secret=secret.hex() if secret else None
    )
    return Response(out, status_code=201 if created else 200)


@post(
    "/senders/webhook/rotate-secret",
    tags=["senders"],
    opt=requires("manage"),
    status_code=200,
    summary="Rotate the webhook's signing secret",
    description="Requests are signed with the new secret from now on; the answer carries it, once.",
    responses=problems(401, 403, 404, 503, described=_WEBHOOK_PROBLEMS),
    operation_class=ProblemOperation,
)
async def rotate_webhook_secret(request: Req, conn: Conn) -> WebhookSecret:
    signing_key = _signing_key(request)
    version = await senders.rotate_webhook_secret(conn, request.auth.brand_id)
    if version is None:
        raise NotFoundException("no webhook sender: create one with PUT /v1/senders/webhook")
    return WebhookSecret(
        secret=senders.webhook_secret(signing_key, request.auth.brand_id, version).hex(), secret_version=version
    )


@delete(
    [f"/senders/{channel}" for channel in CHANNELS],
    tags=["senders"],
    opt=requires("manage"),
    summary="Remove the brand's sender of a channel",
    description="The channel uses the global default sender again. A webhook created again later gets a new "
    "signing secret.",
    responses=problems(401, 403, 404, 503),
    operation_class=ProblemOperation,
)
async def delete_sender(request: Req, conn: Conn) -> None:
    channel = request.url.path.rsplit("/", 1)[-1]
    assert channel in CHANNELS
    if not await senders.delete_sender(conn, request.auth.brand_id, channel):  # type: ignore[arg-type]
        raise NotFoundException(f"no {channel} sender of this brand")


ROUTES = [
    list_senders,
    put_sms_sender,
    put_whatsapp_sender,
    put_push_sender,
    put_webhook_sender,
    rotate_webhook_secret,
    delete_sender,
]
