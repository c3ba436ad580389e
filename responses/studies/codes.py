"""Texted touchpoint codes of a tracking study: ``BT45`` is brand B, touchpoint T, positivity 4, persuasiveness 5.

Pure. People type codes on a phone keyboard in a hurry, so the parser forgives what does not change the meaning:
case (``bt45``), spaces and separators between the parts (``b t 4 5``, ``B-T-4-5``, ``bt 45``, ``B,T,4,5``),
full-width or compatibility characters a keyboard may insert (NFKC), and punctuation or an emoji at the ends
(``BT45.``, ``BT45 👍``). It
never guesses at what does: swapped letters, a third letter, a missing rating or a rating outside 1–5 are not a
code, and the answer says which part is wrong so that the reply can explain it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from typing import Final, Literal

import msgspec

MAX_CODE_TEXT: Final = 40
"""Texts longer than this are never codes (a code is four characters, with some separators)."""
SCALE: Final = range(1, 6)
"""Positivity and persuasiveness are rated 1–5."""

_SEPARATORS = re.compile(r"[\s\-–—_.,;:/|+*#'\"()]+")
_SHAPE = re.compile(r"^([A-Z])([A-Z])([0-9])([0-9])$")
_LETTERS_DIGITS = re.compile(r"^([A-Z]+)([0-9]+)$")
_ENDS = re.compile(r"^[^0-9A-Z]+|[^0-9A-Z]+$")

Problem = Literal["not_a_code", "unknown_brand", "unknown_touchpoint", "bad_ratings"]


class Code(msgspec.Struct, frozen=True, kw_only=True):
    """A valid code: letters upper-case, ratings 1–5."""

    brand: str
    touchpoint: str
    positivity: int
    persuasiveness: int

    def text(self) -> str:
        return f"{self.brand}{self.touchpoint}{self.positivity}{self.persuasiveness}"


class NotACode(msgspec.Struct, frozen=True, kw_only=True):
    """Why a text is not a valid code; `letter` is the unknown letter for ``unknown_brand`` and
    ``unknown_touchpoint``."""

    problem: Problem
    letter: str | None = None


def normalize(text: str) -> str:
    """The text as the parser reads it: NFKC, upper-case, separators removed, and anything but letters and digits
    at either end (punctuation, an emoji) dropped."""
    folded = unicodedata.normalize("NFKC", text[: MAX_CODE_TEXT * 2]).upper()
    return _ENDS.sub("", _SEPARATORS.sub("", folded))


def parse_code(text: str, brands: Container[str], touchpoints: Container[str]) -> Code | NotACode:
    """The code in `text`, given the study's brand and touchpoint letters (upper-case); never raises.

    Unknown letters are reported before ratings: ``BX9`` with no touchpoint X is about the X.
    """
    if len(text) > MAX_CODE_TEXT:
        return NotACode(problem="not_a_code")
    compact = normalize(text)
    match = _SHAPE.match(compact)
    if match is None:
        return _why_not(compact, brands, touchpoints)
    brand, touchpoint, positivity, persuasiveness = match.groups()
    if brand not in brands:
        return NotACode(problem="unknown_brand", letter=brand)
    if touchpoint not in touchpoints:
        return NotACode(problem="unknown_touchpoint", letter=touchpoint)
    if int(positivity) not in SCALE or int(persuasiveness) not in SCALE:
        return NotACode(problem="bad_ratings")
    return Code(brand=brand, touchpoint=touchpoint, positivity=int(positivity), persuasiveness=int(persuasiveness))


def _why_not(compact: str, brands: Container[str], touchpoints: Container[str]) -> NotACode:
    """For a text of the wrong shape: if it is two letters and digits (``BX9``, ``BT456``), say what is wrong with
    the letters first, as a person reading it would; anything else is simply not a code."""
    match = _LETTERS_DIGITS.match(compact)
    if match is None or len(match[1]) != 2:
        return NotACode(problem="not_a_code")
    brand, touchpoint = match[1]
    if brand not in brands:
        return NotACode(problem="unknown_brand", letter=brand)
    if touchpoint not in touchpoints:
        return NotACode(problem="unknown_touchpoint", letter=touchpoint)
    return NotACode(problem="bad_ratings")
