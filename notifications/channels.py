"""What each channel sends for an invitation: pure composition, no I/O.

An invitation reaches the customer by SMS (``conversation`` style: the intro and the first question, answered
by reply; ``link`` style: a short localized text with the web survey link), by ``web_link`` (the link style,
always), by WhatsApp (an approved template, whose variables may carry the link), by push (title, body and the
data the brand's app needs to open the survey) or by the brand's ``webhook`` (the rendered invitation as JSON,
for brands that reach customers through their own app backend).

Every link carries a fresh token of 256 random bits, bound to one message of one invitation. Only its SHA-256
is stored; the text stored as the message's body has the token masked, so the database never holds a
working link.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any, Final

import msgspec

from customers.model import Customer
from questionnaires.model import Definition
from questionnaires.render import SmsMessage, render_app, render_link_sms, render_push, render_sms, sms_message
from triggers.model import Channel, SendWindow, Style, WhatsAppTemplate, WhenBusy

LINK_TOKEN_BYTES: Final = 32
MASK: Final = "{token}"
"""What replaces the link token in stored message bodies."""
TEMPLATE: Final = "template "
"""How a stored body that is a template and its variables begins (the provider renders the text)."""

_encode = msgspec.json.Encoder().encode


class SendRules(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of the trigger the send job applies, read from the trigger as it is at send time."""

    style: Style = "conversation"
    when_busy: WhenBusy = "link"
    whatsapp_template: WhatsAppTemplate | None = None
    send_window: SendWindow | None = None
    default_time_zone: str = "UTC"


def send_rules(trigger_definition: dict[str, Any] | None) -> SendRules:
    """The send rules of a stored trigger definition; defaults when the trigger is gone."""
    # The stored definition has every field of the trigger; only these matter here.
    return msgspec.convert(trigger_definition or {}, SendRules)


def carries_link(channel: Channel, rules: SendRules) -> bool:
    """Whether `channel`'s message can carry the survey link: every one can but a WhatsApp template without a
    ``{link}`` variable. Triggers are refused without one where a link may be needed (`triggers.model`); one stored
    before that rule may still lack it."""
    if channel != "whatsapp":
        return True
    return rules.whatsapp_template is not None and rules.whatsapp_template.carries_link


class Link(msgspec.Struct, frozen=True):
    token: str
    token_hash: bytes
    url: str


def new_link(base_url: str) -> Link:
    """A fresh web survey link: ``{base_url}/s/{token}``."""
    token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
    return Link(token, link_token_hash(token), f"{base_url.rstrip('/')}/s/{token}")


def link_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """One composed message, ready for its provider."""

    channel: Channel
    style: Style | None
    recipient: str
    """+E.164 for SMS, ``whatsapp:+E.164``, a push token, or the brand's webhook URL."""
    text: str
    """What the provider gets as the text: the SMS, the push body, the webhook's JSON."""
    stored_body: str
    """`text` with the link token masked: what the ``messages`` row keeps."""
    segments: int = 1
    """SMS segments (each costs one unit of the sender's rate); 1 for every other channel."""
    link: Link | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    push_title: str | None = None
    push_data: dict[str, str] | None = None


class Invitation(msgspec.Struct, frozen=True, kw_only=True):
    """What composition needs to know of the invitation being sent."""

    invitation_id: str
    questionnaire_key: str
    questionnaire_version: int
    expires_at: datetime
    preamble: str | None = None
    """Sent before the survey's first message by SMS (a tracking study's welcome, in the customer's language)."""


def compose(
    channel: Channel,
    *,
    rules: SendRules,
    definition: Definition,
    customer: Customer,
    invitation: Invitation,
    base_url: str,
    webhook_url: str | None = None,
) -> Message:
    """The message `channel` sends for `invitation` to `customer`, in the customer's locale."""
    locale = customer.locale
    if channel in ("sms", "web_link"):
        assert customer.phone is not None
        if channel == "sms" and rules.style == "conversation":
            sms = _after(
                invitation.preamble, render_sms(definition, definition.questions[0].id, locale, intro=True)
            )
            return Message(
                channel=channel,
                style="conversation",
                recipient=customer.phone,
                text=sms.text,
                stored_body=sms.text,
                segments=sms.segments,
            )
        link = new_link(base_url)
        sms = _after(invitation.preamble, render_link_sms(definition, locale, link.url))
        return Message(
            channel=channel,
            style="link",
            recipient=customer.phone,
            text=sms.text,
            stored_body=_mask(sms.text, link),
            segments=sms.segments,
            link=link,
        )
    if channel == "whatsapp":
        assert customer.phone is not None
        if rules.whatsapp_template is None:
            raise ValueError("a WhatsApp invitation needs the trigger's whatsapp_template")
        link = new_link(base_url) if rules.style == "link" or rules.whatsapp_template.carries_link else None
        title, _, locale_used = render_push(definition, locale)
        first = render_sms(definition, definition.questions[0].id, locale_used).text
        values = {"link": link.url if link else "", "title": title, "question": first}
        variables = {
            number: _fill(value, values) for number, value in sorted(rules.whatsapp_template.variables.items())
        }
        text = f"{TEMPLATE}{rules.whatsapp_template.content_sid} {_encode(variables).decode()}"
        return Message(
            channel=channel,
            style=rules.style,
            recipient=f"whatsapp:{customer.phone}",
            text=text,
            stored_body=_mask(text, link),
            link=link,
            content_sid=rules.whatsapp_template.content_sid,
            content_variables=variables,
        )
    if channel == "push":
        assert customer.push_tokens
        link = new_link(base_url)
        title, body, locale_used = render_push(definition, locale)
        data = {
            "lxt_invitation_id": invitation.invitation_id,
            "lxt_token": link.token,
            "lxt_url": link.url,
            "lxt_locale": locale_used,
            "lxt_expires_at": invitation.expires_at.isoformat(),
        }
        return Message(
            channel=channel,
            style=None,
            recipient=customer.push_tokens[0],
            text=body,
            stored_body=f"{title}: {body}",
            link=link,
            push_title=title,
            push_data=data,
        )
    assert channel == "webhook"
    link = new_link(base_url)
    form = render_app(definition, locale, version=invitation.questionnaire_version)
    payload = {
        "type": "invitation",
        "invitation_id": invitation.invitation_id,
        "customer": {"external_id": customer.external_id},
        "questionnaire": {"key": invitation.questionnaire_key, "version": invitation.questionnaire_version},
        "expires_at": invitation.expires_at,
        "link": link.url,
        "token": link.token,
        "form": form,
    }
    text = _encode(payload).decode()
    return Message(
        channel=channel,
        style=None,
        # No URL: the brand configured no webhook, and the message goes to the sandbox.
        recipient=webhook_url or "webhook (not configured)",
        text=text,
        stored_body=_mask(text, link),
        link=link,
    )


def _after(preamble: str | None, sms: SmsMessage) -> SmsMessage:
    """`sms` with the invitation's preamble before it (measured again: it may take more segments)."""
    return sms_message(f"{preamble}\n\n{sms.text}", sms.locale) if preamble else sms


def _fill(value: str, values: dict[str, str]) -> str:
    for name, replacement in values.items():
        value = value.replace("{" + name + "}", replacement)
    return value


def _mask(text: str, link: Link | None) -> str:
    return text.replace(link.token, MASK) if link else text
