"""SMS encoding: GSM-7 or UCS-2, and how many segments a text costs.

An SMS carries 140 bytes. In GSM 03.38 (GSM-7) that is 160 characters, or 153 per part of a concatenated
message (the rest holds the part header); characters of the extension table (``€ [ ] { } | ^ ~ \\`` and
form feed) take two septets, and an escape pair is never split across parts. One character outside GSM-7 turns
the whole message into UCS-2: 70 UTF-16 code units, 67 per part, and a surrogate pair is never split.

`to_gsm` replaces typographic punctuation and exotic spaces by their plain GSM-7 look-alikes (curly quotes,
dashes, ellipsis, non-breaking spaces), so one smart quote does not more than double the price of a message.
It never touches letters: ``ü`` is GSM-7 and stays; ``ł`` or ``ç`` has no GSM-7 form and makes the message UCS-2.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The 127 printable characters of the GSM 03.38 default alphabet (the 128th code is the escape)."""
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
"""Characters of the extension table: each is sent as escape + code, two septets."""

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

_LOOKALIKES = {
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’
    "\u201a": "'",  # ‚
    "\u201b": "'",  # ‛
    "\u2032": "'",  # ′
    "\u00b4": "'",  # ´
    "`": "'",
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u201f": '"',  # ‟
    "\u2033": '"',  # ″
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2026": "...",  # …
    "\u2022": "-",  # •
    "\u00a0": " ",  # no-break space
    "\u202f": " ",  # narrow no-break space (French punctuation)
    "\u2007": " ",  # figure space
    "\u2009": " ",  # thin space
    "\u200a": " ",  # hair space
    "\u2002": " ",  # en space
    "\u2003": " ",  # em space
    "\t": " ",
    "\u200b": "",  # zero-width space
    "\u2060": "",  # word joiner
    "\u00ad": "",  # soft hyphen
}
_TRANSLATE = str.maketrans(_LOOKALIKES)


class SmsSize(msgspec.Struct, frozen=True):
    """What one SMS text costs."""

    encoding: Encoding
    segments: int
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text."""


def to_gsm(text: str) -> str:
    """`text` with typographic punctuation and spaces replaced by GSM-7 look-alikes; letters untouched."""
    return text.replace("\r\n", "\n").translate(_TRANSLATE)


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` exists in GSM-7 (basic or extension table)."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _parts(costs: list[int], single: int, part: int) -> int:
    total = sum(costs)
    if total <= single:
        return 1
    # Fill parts greedily; a character (escape pair, surrogate pair) never straddles two parts.
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts += 1
            used = 0
        used += cost
    return parts


def measure(text: str) -> SmsSize:
    """Encoding and segment count of `text` exactly as given (call `to_gsm` first to save segments)."""
    if is_gsm7(text):
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return SmsSize("GSM-7", _parts(costs, GSM7_SINGLE, GSM7_PART), sum(costs))
    costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SmsSize("UCS-2", _parts(costs, UCS2_SINGLE, UCS2_PART), sum(costs))
