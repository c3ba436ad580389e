"""Words and numbers as customers text them back, in the languages lxt speaks (en, de, fr, es, nl).

The tables are merged across languages: a German customer answering an English survey with "neun" is
understood. A test keeps the merged tables free of conflicts (no word meaning two numbers, or both yes and no).
Every word is stored case-folded; `fold` brings a reply into the same form.
"""

from __future__ import annotations

import math
import re
import unicodedata

MAX_REPLY_CHARS = 2000
"""Longer SMS replies are refused before any work is done on them (a concatenated SMS tops out near 1,600)."""
MAX_NUMBER_CHARS = 40
"""Longer digit runs are no number anyone means (and stay far below int()'s digit limit)."""
LENIENT_CHARS = 60
"""Only replies this short are searched for a lone number ("9 great service"): in longer ones it's a guess."""

INTEGER = re.compile(r"[+-]?\d+")
GROUPED = re.compile(r"[+-]?\d{1,3}(?P<sep>[.,' ])\d{3}(?:(?P=sep)\d{3})*")
"""Thousands grouped with one separator: "1,500", "1.500", "1'500", "1 500" all mean 1500."""
DECIMAL = re.compile(r"[+-]?\d*[.,]\d+")
"""A decimal with point or comma ("2.5", "2,5"); checked after GROUPED, so "1,500" is never 1.5."""
DIGITS = re.compile(r"\d+(?:[.,]\d+)?")

NUMBER_WORDS: dict[str, int] = {
    # en
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    # de
    "null": 0, "eins": 1, "ein": 1, "eine": 1, "zwei": 2, "zwo": 2, "drei": 3, "vier": 4,
    "fünf": 5, "fuenf": 5, "funf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10,
    # fr
    "zéro": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "sept": 7, "huit": 8, "neuf": 9, "dix": 10,
    # es
    "cero": 0, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
    # nl
    "nul": 0, "een": 1, "één": 1, "eén": 1, "twee": 2, "drie": 3, "vijf": 5,
    "zes": 6, "zeven": 7, "negen": 9, "tien": 10,
}  # fmt: skip

YES_WORDS = frozenset(
    {"y", "yes", "yeah", "yep", "yup", "ja", "j", "jawohl", "jo", "jep", "oui", "ouais", "si", "sí", "true"}
    | {"👍", "✅", "✔", "☑"}
)
NO_WORDS = frozenset({"n", "no", "nope", "nah", "nein", "nee", "non", "false"} | {"👎", "❌", "✖", "✗", "❎"})

SKIP_WORDS = frozenset(
    {"skip", "weiter", "überspringen", "ueberspringen", "passer", "saltar", "omitir", "overslaan"}
)
"""Whole-message replies that skip an optional question, in any of lxt's languages."""

STOP_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt-out", "opt out"}
    | {"stopp", "abmelden", "abbestellen", "austragen"}
    | {"arret", "arrêt", "desabonner", "désabonner", "desinscrire", "désinscrire"}
    | {"baja", "cancelar", "parar"}
    | {"afmelden", "uitschrijven"}
)
"""Opt-out keywords: the carriers' English set (CTIA) plus their usual German, French, Spanish, Dutch forms."""

# Leading "-" and "." stay: they belong to numbers ("-3", ".5"); trailing ones are decoration ("9 -", "yes.").
_LEADING = " \"'`([{<*_~¡¿‘’“”„«»"
_TRAILING = _LEADING + ".,;:!?)]}>…-–—"
_KEYCAP = "\ufe0f\u20e3"


def fold(text: str) -> str:
    """Case-folded, compatibility-normalized text without surrounding punctuation or whitespace.

    NFKC maps fullwidth and circled digits to ASCII digits; keycap emoji (``9️⃣``) lose their combining marks.
    The caller caps the length first.
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if c not in _KEYCAP)
    text = text.replace("\U0001f51f", "10")  # 🔟 keycap ten
    text = "".join(_ascii_digit(c) for c in text)
    return " ".join(text.casefold().split()).lstrip(_LEADING).rstrip(_TRAILING)


def _ascii_digit(char: str) -> str:
    # Other scripts' decimal digits (Arabic-Indic, Devanagari …) count as digits too.
    if char.isdecimal() and not ("0" <= char <= "9"):
        return str(unicodedata.decimal(char, "")) or char
    return char


def is_stop_keyword(text: str) -> bool:
    """Whether an SMS reply is an opt-out (``STOP``, ``Stopp!``, ``unsubscribe`` …), case-insensitive, trimmed.

    Only the whole message counts: "stop sending me these" is left to a human reading replies, as carriers do.
    """
    if not isinstance(text, str) or len(text) > 64:
        return False
    return fold(text) in STOP_WORDS


def read_int(folded: str) -> int | None:
    """A whole reply that is one integer, as digits or a number word."""
    if folded in NUMBER_WORDS:
        return NUMBER_WORDS[folded]
    if len(folded) <= MAX_NUMBER_CHARS and INTEGER.fullmatch(folded):
        return int(folded)
    return None


def read_number(folded: str) -> int | float | None:
    """A whole reply that is one number: integer, grouped thousands ("1,500", "1.500") or decimal ("2,5")."""
    whole = read_int(folded)
    if whole is not None:
        return whole
    if len(folded) > MAX_NUMBER_CHARS:
        return None
    grouped = GROUPED.fullmatch(folded)
    if grouped:
        return int(re.sub(r"[.,' ]", "", folded))
    if DECIMAL.fullmatch(folded):
        value = float(folded.replace(",", "."))
        return value if math.isfinite(value) else None
    return None


def lone_number(folded: str) -> str | None:
    """The only number in a short reply ("9 great service", "about 30 minutes"), else None."""
    if len(folded) > LENIENT_CHARS:
        return None
    found = DIGITS.findall(folded)
    return found[0] if len(found) == 1 else None
