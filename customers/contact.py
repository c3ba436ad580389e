"""Contact data as brands send it: phone numbers to E.164, locales and time zones checked, attribute size.

Pure.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec
import phonenumbers

from customers.model import MAX_ATTRIBUTES_BYTES, CustomerIn
from customers.zones import ZONE_RULE, load_zone
from plumbing.errors import FieldError, pointer
from questionnaires.locales import normalize_locale

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
