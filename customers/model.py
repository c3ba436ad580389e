"""Customers as brands describe them, as stored, and merging an update into the stored customer.

Pure (validation of contact data is in `customers.contact`). A customer is identified per brand by the brand's ``external_id``; events and ``PUT /v1/customers/{id}``
both carry a `CustomerIn`, and fields left out keep their stored value (``null`` clears a field).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from plumbing.errors import DefinitionInvalid


class CustomerInvalid(DefinitionInvalid):
    title = "Invalid customer"


ConsentChannel = Literal["sms", "push", "web", "whatsapp"]
ExternalId = Annotated[
    str, Meta(min_length=1, max_length=200, description="The brand's own id of the customer.", examples=["C-1042"])
]
Phone = Annotated[str, Meta(min_length=3, max_length=32, description="E.164 phone number, e.g. +4915112345678.")]
Locale = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$",
        max_length=35,
        examples=["de-CH"],
        description="BCP 47 tag; de_CH and DE-ch are accepted and stored as de-CH",
    ),
]
TimeZone = Annotated[str, Meta(min_length=1, max_length=64, examples=["Europe/Berlin"], description="IANA zone")]
PushToken = Annotated[str, Meta(min_length=1, max_length=4096)]
Attributes = Annotated[dict[str, Any], Meta(description="Free attributes, usable in trigger conditions.")]

MAX_PUSH_TOKENS: Final = 10
MAX_ATTRIBUTES_BYTES: Final = 16_384


class CustomerIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Contact data for one customer. Omitted fields keep their stored values; ``null`` clears one."""

    phone: Phone | UnsetType | None = UNSET
    locale: Locale | UnsetType | None = UNSET
    time_zone: TimeZone | UnsetType | None = UNSET
    push_tokens: Annotated[list[PushToken], Meta(max_length=MAX_PUSH_TOKENS)] | UnsetType = UNSET
    """Replaces the stored tokens when given."""
    consents: dict[ConsentChannel, bool] | UnsetType = UNSET
    """Per channel: true = consent given, false = withdrawn. Merged into the stored consents."""
    opted_out: bool | UnsetType = UNSET
    """true: no more surveys on any channel (as an SMS STOP does); false: opted back in — honoured only through
    ``PUT /v1/customers/{id}`` with the ``manage`` scope, never from an event."""
    attributes: Attributes | UnsetType = UNSET
    """Merged key by key into the stored attributes."""


class CustomerRef(CustomerIn, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A customer as an event mentions it: the external id plus optional contact data."""

    external_id: ExternalId


class Customer(msgspec.Struct, kw_only=True):
    """The stored customer."""

    customer_id: str
    external_id: str
    phone: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    push_tokens: list[str] = []
    consents: dict[str, bool] = {}
    opted_out_at: datetime | None = None
    attributes: dict[str, Any] = {}
    phone_unreachable: str | None = None
    """Why SMS cannot reach `phone`, as a provider reported it (``invalid_number``, ``not_mobile``, ``landline``,
    ``unknown_number``); cleared when the phone changes."""
    unsubscribed: list[str] = []
    """Channels the customer opted out of themselves: a STOP reply, or the carrier's opt-out as Twilio reported
    it — also one made from their phone before it was theirs (migrations/0011). Their consent stays withdrawn
    whatever events say; only the customer's START, or ``PUT /v1/customers/{id}`` with the ``manage`` scope, grants
    it again."""

    def facts(self) -> CustomerFacts:
        return CustomerFacts(
            external_id=self.external_id,
            time_zone=self.time_zone,
            locale=self.locale,
            has_phone=self.phone is not None,
            push_tokens=len(self.push_tokens),
            consents=self.consents,
            opted_out=self.opted_out_at is not None,
            attributes=self.attributes,
            phone_unreachable=self.phone_unreachable is not None,
        )


class CustomerFacts(msgspec.Struct, kw_only=True, frozen=True):
    """What a decision needs to know about the customer, as of the decision."""

    external_id: str
    time_zone: str | None = None
    locale: str | None = None
    has_phone: bool = False
    push_tokens: int = 0
    consents: dict[str, bool] = {}
    """Channel → consent; only an explicit True is consent (missing means no)."""
    opted_out: bool = False
    attributes: dict[str, Any] = {}
    phone_unreachable: bool = False
    """A provider reported that the phone cannot take messages (see `Customer.phone_unreachable`)."""


class ConsentChange(msgspec.Struct, frozen=True):
    channel: str
    """A consent channel, or ``all`` for opting out (granted false) and back in (granted true)."""
    granted: bool


def merge(
    stored: Customer, update: CustomerIn, now: datetime, *, opt_in: bool = True
) -> tuple[Customer, list[ConsentChange]]:
    """Apply `update` (validated) to `stored`; return the new state and the consent changes it made.

    With ``opt_in=False`` (events, and keys without the ``manage`` scope), ``opted_out: false`` is ignored, and so
    is a consent granted for a channel the customer unsubscribed from (`Customer.unsubscribed`): a system that
    sends ``consents: {sms: true}`` with every event must not undo a customer's STOP.
    """
    merged = msgspec.structs.replace(stored)
    changes: list[ConsentChange] = []
    for name in ("phone", "locale", "time_zone", "push_tokens"):
        value = getattr(update, name)
        if value is not UNSET:
            setattr(merged, name, [] if value is None and name == "push_tokens" else value)
    if merged.phone != stored.phone:
        merged.phone_unreachable = None  # what a provider said was about the old number
    if update.consents is not UNSET:
        consents = dict(stored.consents)
        unsubscribed = list(stored.unsubscribed)
        for channel, granted in sorted(update.consents.items()):
            if granted and channel in unsubscribed:
                if not opt_in:
                    continue  # the customer's own opt-out stands
                unsubscribed.remove(channel)
            if consents.get(channel) is not granted:
                changes.append(ConsentChange(channel, granted))
            consents[channel] = granted
        merged.consents = consents
        merged.unsubscribed = unsubscribed
    if update.opted_out is not UNSET:
        was_out = stored.opted_out_at is not None
        if update.opted_out and not was_out:
            merged.opted_out_at = now
            changes.append(ConsentChange("all", False))
        elif not update.opted_out and was_out and opt_in:
            merged.opted_out_at = None
            changes.append(ConsentChange("all", True))
    if update.attributes is not UNSET:
        merged.attributes = {**stored.attributes, **update.attributes}
    return merged, changes
