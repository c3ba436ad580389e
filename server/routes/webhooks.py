"""Twilio's webhooks: delivery receipts (status callbacks) and inbound SMS and WhatsApp messages.

Twilio signs every request: ``X-Twilio-Signature`` is an HMAC of the URL it called followed by the form
parameters, keyed with the account's auth token (`twilio.request_validator`). The URL checked is the one lxt
gave Twilio, built on ``LXT_PUBLIC_BASE_URL`` (`Settings.base_url`) — never the request's Host header, which a
proxy rewrites and a forger chooses. A request without a valid signature is a 403 and nothing of it is stored;
without an auth token configured, every one is (nothing could tell Twilio from a forger).

Only then is anything read from the database: forged requests take no pooled connection. Twilio retries a
webhook that fails, so one that names nothing lxt knows (a message or sender of no brand) is answered with
success and only logged. Phone numbers are never logged.

An inbound message is stored and answered in one short transaction (`responses.replies`): the TwiML reply is the
next question, a re-prompt, a thank-you, a keyword's confirmation, the brand's auto-reply — or empty. Send jobs a
reply causes are queued after the commit.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl
from uuid import UUID

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import MultiDict, State
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, RequestBody, Schema
from litestar.params import HeaderParameter, QueryParameter
from msgspec import Meta
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from notifications.receipts import STATUS_CALLBACK_PATH, record_receipt
from plumbing.errors import FieldError, nul_errors
from responses import inbound, replies
from server import db
from server.boundary import refuse_nul
from server.errors import ApiError, ProblemOperation, invalid_body, problems
from server.settings import Settings

log = logging.getLogger("lxt.webhooks")

FORM = "application/x-www-form-urlencoded"
TWIML = "text/xml"
SIGNATURE = "X-Twilio-Signature"
Req = Request[Any, Any, State]
View = TypeVar("View", bound=msgspec.Struct)


class StatusCallback(msgspec.Struct, rename="pascal", kw_only=True):
    """What lxt reads of a Twilio status callback (Twilio sends more, and adds fields over time)."""

    message_sid: Annotated[str, Meta(min_length=1, max_length=64)]
    message_status: Annotated[str, Meta(min_length=1, max_length=32)]
    error_code: str | None = None
    account_sid: str | None = None


class InboundMessage(msgspec.Struct, rename="pascal", kw_only=True):
    """What lxt reads of a Twilio inbound message webhook; every field is stored as received."""

    message_sid: Annotated[str, Meta(min_length=1, max_length=64)]
    from_: Annotated[str, Meta(min_length=1, max_length=64)]
    to: Annotated[str, Meta(min_length=1, max_length=64)]
    body: str = ""
    messaging_service_sid: str | None = None
    account_sid: str | None = None
    opt_out_type: str | None = None
    """Set by Twilio's Advanced Opt-Out when the message was one of its keywords (STOP, START, HELP), which it
    answered itself."""


def _form_operation(view: type[msgspec.Struct]) -> type[ProblemOperation]:
    """The operation of a webhook reading a form-encoded `view` itself: the document shows the form's fields."""
    info = msgspec.inspect.type_info(view)
    assert isinstance(info, msgspec.inspect.StructType)
    schema = Schema(
        type=OpenAPIType.OBJECT,
        properties={field.encode_name: Schema(type=OpenAPIType.STRING) for field in info.fields},
        required=[field.encode_name for field in info.fields if field.required],
        description="Twilio's form parameters (only those lxt reads are listed; Twilio sends more).",
    )

    @dataclass
    class FormOperation(ProblemOperation):
        def __post_init__(self) -> None:
            super().__post_init__()
            self.request_body = RequestBody(content={FORM: OpenAPIMediaType(schema=schema)}, required=True)

    return FormOperation


SignatureHeader = Annotated[
    str | None,
    HeaderParameter(
        name=SIGNATURE,
        description="Twilio's signature of the request (HMAC-SHA1 of the URL and the form parameters, keyed "
        "with the auth token). Required: a request without a valid one is refused.",
    ),
]

_UNREADABLE = "the body is not form-encoded UTF-8"
_PROBLEMS = problems(
    413,
    415,
    422,
    503,
    described={
        400: "The body is not form-encoded UTF-8.",
        403: "Not signed by Twilio with lxt's auth token (or no auth token is configured): nothing was stored.",
    },
)


@functools.cache
def _warn_unconfigured() -> None:
    # Once per process: every webhook is refused until the token is set, and one line says why.
    log.warning(
        "Twilio webhooks are refused with 403: LXT_TWILIO_AUTH_TOKEN is not set, so no signature can be checked"
    )


def _refused(message: str) -> ApiError:
    return ApiError(403, message, errors=[FieldError(f"header:{SIGNATURE}", message)])


async def signed_form(request: Req) -> MultiDict[str]:
    """The request's form parameters, once its Twilio signature is found valid (a problem otherwise)."""
    settings: Settings = request.app.state.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        message = f"Twilio webhooks are {FORM}, not {content_type or 'without a content type'}"
        raise ApiError(415, message, errors=[FieldError("header:content-type", message)])
    if not settings.twilio_auth_token:
        _warn_unconfigured()
        raise _refused("Twilio webhooks are not accepted: lxt has no Twilio auth token to check them with")
    signature = request.headers.get(SIGNATURE)
    if not signature:
        raise _refused(f"the {SIGNATURE} header is missing")
    try:
        form = MultiDict(parse_qsl((await request.body()).decode(), keep_blank_values=True, errors="strict"))
    except UnicodeDecodeError:
        raise ApiError(400, _UNREADABLE, errors=[FieldError("", _UNREADABLE)]) from None
    query = request.scope["query_string"].decode("latin-1")
    url = settings.base_url + request.scope["path"] + (f"?{query}" if query else "")
    if not RequestValidator(settings.twilio_auth_token).validate(url, form, signature):
        log.warning("refused a Twilio webhook to %s: its signature is not valid", request.scope["path"])
        raise _refused(f"the {SIGNATURE} header is not a valid signature of this request")
    refuse_nul(nul_errors(dict(form)))
    return form


def decode_view(form: MultiDict[str], view: type[View]) -> View:
    """The form as `view`, or a 422 naming the parameter (`/MessageSid`) that is missing or invalid."""
    try:
        return msgspec.convert(dict(form), view)
    except msgspec.ValidationError as exc:
        raise invalid_body(exc) from None


def _error_code(code: str | None) -> str | None:
    # Twilio sends no ErrorCode, an empty one or "0" for a message without an error.
    return code if code and code != "0" else None


@post(
    STATUS_CALLBACK_PATH,
    tags=["webhooks"],
    status_code=204,
    summary="Twilio delivery receipts (status callbacks)",
    description="The StatusCallback URL lxt puts on each message it sends through Twilio, naming the brand (`b`) "
    "and the message (`m`). Each receipt is stored once (Twilio retries) and moves the message's delivery status "
    "forward only: `queued`/`accepted` < `sending` < `sent` < `delivered`/`undelivered`/`failed` < `read`. A "
    "receipt for a message lxt does not know is answered 204 as well, so that Twilio stops retrying it.",
    responses=_PROBLEMS,
    operation_class=_form_operation(StatusCallback),
)
async def twilio_status(
    request: Req,
    b: Annotated[UUID, QueryParameter(description="The brand's id.")],
    m: Annotated[UUID, QueryParameter(description="The message's id (one send attempt).")],
    signature: SignatureHeader = None,
) -> None:
    receipt = decode_view(await signed_form(request), StatusCallback)
    async with db.acquire(request.app.state.pool) as conn, conn.transaction():
        recorded = await record_receipt(
            conn,
            b,
            m,
            receipt.message_status,
            _error_code(receipt.error_code),
            receipt.message_sid,
            datetime.now(UTC),
        )
    if recorded.outcome == "unknown_message":
        log.warning("Twilio status callback for an unknown message %s of brand %s: not stored", m, b)


def twiml(text: str | None) -> str:
    """The TwiML answer to an inbound message: `text` texted back, or nothing (an empty response)."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


async def _inbound(request: Req, channel: inbound.Channel) -> Response[str]:
    form = await signed_form(request)
    message = decode_view(form, InboundMessage)
    settings: Settings = request.app.state.settings
    now = datetime.now(UTC)

    incoming = inbound.Incoming(
        provider="twilio",
        channel=channel,
        provider_message_id=message.message_sid,
        from_phone=message.from_,
        to_address=message.to,
        body=message.body,
        payload=dict(form),
        messaging_service_sid=message.messaging_service_sid or None,
        opt_out_type=message.opt_out_type or None,
    )
    async with db.acquire(request.app.state.pool) as conn:
        answered = await replies.answer(conn, incoming, now=now, base_url=settings.base_url)
    reply = answered.reply if answered else None
    if reply is None:
        log.warning("inbound %s message %s is to a sender of no brand: not stored", channel, message.message_sid)
    else:
        await replies.queue_jobs(request.app.state.redis, reply, settings.queue_name)
    return Response(twiml(reply.text if reply else None), media_type=TWIML)


_INBOUND = (
    "Stores the message (once per MessageSid: Twilio retries) for the brand whose sender it was sent to: a "
    "brand's own number or Messaging Service, else the brand holding an open conversation with this phone on the "
    "shared number, else the one that last messaged this phone from it; a message for no known brand is not "
    "stored. Then answers it with TwiML, in the same transaction: "
    "STOP, START, HELP and the brand's keywords first (with `OptOutType` set, Twilio's Advanced Opt-Out answered "
    "already and the TwiML is empty); else the customer's open conversation on this sender takes it as the answer "
    "to its question and the TwiML carries the next question, a re-prompt or the thank-you; else the brand's "
    "auto-reply, or empty TwiML. A retried MessageSid gets the same TwiML and changes nothing."
)


@post(
    "/webhooks/twilio/sms",
    tags=["webhooks"],
    status_code=200,
    summary="Twilio inbound SMS",
    description=_INBOUND,
    media_type=TWIML,
    responses=_PROBLEMS,
    operation_class=_form_operation(InboundMessage),
)
async def twilio_sms(request: Req, signature: SignatureHeader = None) -> Response[str]:
    return await _inbound(request, "sms")


@post(
    "/webhooks/twilio/whatsapp",
    tags=["webhooks"],
    status_code=200,
    summary="Twilio inbound WhatsApp messages",
    description=_INBOUND + " `From` and `To` carry Twilio's `whatsapp:` prefix.",
    media_type=TWIML,
    responses=_PROBLEMS,
    operation_class=_form_operation(InboundMessage),
)
async def twilio_whatsapp(request: Req, signature: SignatureHeader = None) -> Response[str]:
    return await _inbound(request, "whatsapp")


ROUTES = [twilio_status, twilio_sms, twilio_whatsapp]
