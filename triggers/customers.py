"""Customers as brands describe them: validation of contact data and merging into the stored customer.

Pure. A customer is identified per brand by the brand's ``external_id``; events and ``PUT /v1/customers/{id}``
both carry a `CustomerIn`, and fields left out keep their stored value (``null`` clears a field).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal

import msgspec
import phonenumbers
from msgspec import UNSET, Meta, UnsetType

from questionnaires.errors import DefinitionInvalid, FieldError, pointer
from questionnaires.locales import normalize_locale
from triggers.model import ZONE_RULE, CustomerFacts, load_zone


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
        )


class ConsentChange(msgspec.Struct, frozen=True):
    channel: str
    """A consent channel, or ``all`` for opting out (granted false) and back in (granted true)."""
    granted: bool


_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@functools.lru_cache(maxsize=65_536)
def normalize_phone(raw: str) -> str | None:
    """E.164 form of an international number, or None if it is not a valid one or carries an extension.

    Written forms people use are accepted: spaces, dashes, dots and parentheses, ``00`` for ``+``, and the
    national trunk prefix in parentheses after the country code (``+49 (0) 151 …``), which E.164 drops.

    Cached: a customer's number arrives again with each of their events.
    """
    text = raw.strip()
    if _E164.match(text):
        # Already E.164, as brand systems usually send it: check it against the numbering plan without the
        # general parser (half the cost). Anything else (invalid, or a quirk such as a national prefix after
        # the country code) gets the full parser below.
        number = _from_e164(text)
        if number is not None and phonenumbers.is_valid_number(number):
            return text
    if not text.startswith(("+", "00")):
        return None
    try:
        number = phonenumbers.parse("+" + text[2:] if text.startswith("00") else text)
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        # An extension cannot receive a text message; dropping it would store a different line.
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_problem(raw: str) -> str:
    """Why `raw` is not a phone number lxt accepts (for a number `normalize_phone` refused)."""
    text = raw.strip()
    try:
        number = phonenumbers.parse("+" + text[2:] if text.startswith("00") else text)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and number.extension:
        return (
            f"has an extension ({number.extension}), which cannot receive text messages; send the number alone, "
            "in E.164 with country code, e.g. +4915112345678"
        )
    return "not a valid international phone number; use E.164 with country code, e.g. +4915112345678"


def _from_e164(text: str) -> phonenumbers.PhoneNumber | None:
    """The number a strict E.164 string denotes, as ``phonenumbers.parse`` would build it."""
    digits = text[1:]
    for length in (1, 2, 3):  # country calling codes are prefix-free
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
            zeros = len(national) - len(national.lstrip("0"))
            if zeros:  # e.g. Italian fixed lines keep their leading 0 in E.164
                number.italian_leading_zero = True
                if zeros > 1:
                    number.number_of_leading_zeros = zeros
            return number
    return None


def check_customer(customer: CustomerIn, at: str = "") -> tuple[CustomerIn, list[FieldError]]:
    """Validate what msgspec cannot (phone, time zone, attribute size); return the normalized customer."""
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    if isinstance(customer.phone, str):
        phone = normalize_phone(customer.phone)
        if phone is None:
            errors.append(FieldError(at + pointer("phone"), phone_problem(customer.phone)))
        changes["phone"] = phone
    if isinstance(customer.time_zone, str) and load_zone(customer.time_zone) is None:
        errors.append(
            FieldError(at + pointer("time_zone"), f"unknown time zone {customer.time_zone!r}; {ZONE_RULE}")
        )
    if isinstance(customer.locale, str):
        locale = normalize_locale(customer.locale)
        if locale is None:
            errors.append(FieldError(at + pointer("locale"), f"not a locale tag: {customer.locale!r}"))
        changes["locale"] = locale
    if (
        isinstance(customer.attributes, dict)
        and len(msgspec.json.encode(customer.attributes)) > MAX_ATTRIBUTES_BYTES
    ):
        errors.append(FieldError(at + pointer("attributes"), f"larger than {MAX_ATTRIBUTES_BYTES} bytes as JSON"))
    if isinstance(customer.push_tokens, list) and len(set(customer.push_tokens)) != len(customer.push_tokens):
        changes["push_tokens"] = list(dict.fromkeys(customer.push_tokens))
    if errors:
        return customer, errors
    return (msgspec.structs.replace(customer, **changes) if changes else customer), []


def merge(
    stored: Customer, update: CustomerIn, now: datetime, *, opt_in: bool = True
) -> tuple[Customer, list[ConsentChange]]:
    """Apply `update` (validated) to `stored`; return the new state and the consent changes it made.

    With ``opt_in=False`` (events), ``opted_out: false`` is ignored: a system that sends the field with every
    event must not undo a customer's STOP.
    """
    merged = msgspec.structs.replace(stored)
    changes: list[ConsentChange] = []
    for name in ("phone", "locale", "time_zone", "push_tokens"):
        value = getattr(update, name)
        if value is not UNSET:
            setattr(merged, name, [] if value is None and name == "push_tokens" else value)
    if update.consents is not UNSET:
        consents = dict(stored.consents)
        for channel, granted in sorted(update.consents.items()):
            if consents.get(channel) is not granted:
                changes.append(ConsentChange(channel, granted))
            consents[channel] = granted
        merged.consents = consents
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
