"""Channels: how an invitation reaches the customer's phone.

Each channel turns an invitation into a provider call and reports a `Delivery`. Until a provider is configured
for a channel, its messages go to the **sandbox**: rendered exactly as they would be sent and recorded in the
``messages`` table with provider ``sandbox``, so a brand can build and test its integration end to end without
texting real phones.
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

from customers.model import Customer
from questionnaires.model import Definition
from questionnaires.render import render_sms


class Delivery(msgspec.Struct, frozen=True):
    """What the provider said: accepted (the invitation is ``sent``) or failed, with its code."""

    outcome: Literal["accepted", "failed"]
    provider: str
    body: str
    segments: int | None = None
    provider_message_id: str | None = None
    error_code: str | None = None


class Channel(Protocol):
    async def send(self, definition: Definition, customer: Customer, invitation_id: str) -> Delivery: ...


def first_message(definition: Definition, customer: Customer) -> tuple[str, int]:
    """The invitation's first SMS: intro plus the first question, in the customer's locale; (text, segments)."""
    message = render_sms(definition, definition.questions[0].id, customer.locale, intro=True)
    return message.text, message.segments


class SandboxChannel:
    """Records the rendered message instead of sending it."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def send(self, definition: Definition, customer: Customer, invitation_id: str) -> Delivery:
        text, segments = first_message(definition, customer)
        return Delivery(outcome="accepted", provider="sandbox", body=text, segments=segments)


def channels_for(configured: dict[str, Channel] | None = None) -> dict[str, Channel]:
    """Every channel name mapped to its configured provider, or to the sandbox."""
    configured = configured or {}
    return {name: configured.get(name) or SandboxChannel(name) for name in ("sms", "whatsapp", "web_link", "push")}
