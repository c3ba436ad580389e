"""An inbound message as the reply steps see it (`Received`), and what a step makes of it (`Reply`).

The steps and the order they are asked in are `responses.replies`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from responses.answers import AnswerChannel
from responses.inbound import Inbound
from responses.messaging import Messaging
from triggers.schedule import InvitationJob

Outcome = Literal[
    "answer",
    "reprompt",
    "skipped",
    "closed",
    "stop",
    "start",
    "help",
    "auto_reply",
    "code",
    "ignored",
    "error",
]
"""What an inbound message meant, as its row records it:

- ``answer``: an answer to the conversation's question was stored (the next question or the thank-you went back);
- ``reprompt``: it could not be read as an answer, and the question's re-prompt went back; or the survey had moved
  past the question it replied to (answered on another channel), and the question due now went back unread;
- ``skipped``: still unreadable after the re-prompts, so the optional question was skipped;
- ``closed``: the conversation ended without an answer: unreadable after the re-prompts on a required question,
  the invitation's time is over, or the survey was completed on another channel (thanked);
- ``stop`` / ``start`` / ``help``: a keyword (`responses.keywords`) or Twilio's ``OptOutType``;
- ``auto_reply``: outside any conversation, answered with the brand's auto-reply;
- ``code``: a tracking study's texted code;
- ``ignored``: outside any conversation, and nothing to answer with;
- ``error``: handling it failed (logged); the message itself is stored.
"""


class Sender(msgspec.Struct, frozen=True, kw_only=True):
    """The brand's customer the message came from, as far as the reply steps need them."""

    customer_id: UUID
    locale: str | None
    consents: dict[str, bool]
    unsubscribed: list[str] = []
    """The channels the customer opted out of themselves (`customers.model.Customer.unsubscribed`)."""

    def opted_out_of(self, channel: str) -> bool:
        """Whether the customer opted out of `channel` themselves (a STOP, or the carrier's opt-out): only then
        does START mean anything, and until then lxt texts them nothing there but the keywords' replies. A
        consent the brand withdrew is not theirs to take back."""
        return channel in self.unsubscribed


class Conversation(msgspec.Struct, kw_only=True):
    """The customer's open conversation on the sender the message was written to (`responses.conversations`),
    its row locked until the transaction ends."""

    brand_id: UUID
    conversation_id: UUID
    invitation_id: UUID
    customer_id: UUID
    locale: str
    question_id: str
    """The question asked last."""
    reprompts: int
    """Re-prompts of that question so far."""


class Received(msgspec.Struct, frozen=True, kw_only=True):
    message: Inbound
    customer: Sender | None
    """None: the phone is no customer of the brand's."""
    brand_name: str
    settings: Messaging
    """The brand's messaging settings, keywords normalized."""
    conversation: Conversation | None
    """The open conversation with the customer's phone on the brand's address the message was sent to (the To
    number, the Messaging Service it came through, or the sandbox's sender)."""
    opt_out_type: str | None = None
    """Twilio's ``OptOutType`` (STOP, START, HELP): its Advanced Opt-Out handled the message and answered it."""
    now: datetime
    base_url: str

    @property
    def channel(self) -> Literal["sms", "whatsapp"]:
        return "whatsapp" if self.message.channel == "whatsapp" else "sms"

    @property
    def answer_channel(self) -> AnswerChannel:
        """How answers given by this message are recorded: its channel, or ``sandbox``."""
        return "sandbox" if self.message.provider == "sandbox" else self.channel

    @property
    def locale(self) -> str | None:
        return self.customer.locale if self.customer else None


class Reply(msgspec.Struct, kw_only=True):
    outcome: Outcome
    text: str | None = None
    """What to text back; None for nothing."""
    conversation_id: UUID | None = None
    invitation_id: UUID | None = None
    customer_id: UUID | None = None
    """The customer the message turned out to be from, when a step knows better than the phone's look-up."""
    jobs: list[InvitationJob] = msgspec.field(default_factory=list)
    """Send jobs to queue once the transaction has committed."""
