"""STOP, START and HELP: what a customer texts instead of an answer, built in and the brand's own. Pure.

A message is a keyword only as a whole: trimmed, case-insensitive, accents and surrounding punctuation ignored
("Stop!", "ARRÊT", " help "). "stop sending me these" is not one; carriers treat it the same way.

Built in:

- **stop**: the carriers' English set — STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT — and their
  usual German, French, Spanish and Dutch forms (`questionnaires.lexicon.STOP_WORDS`: STOPP, ARRET, BAJA …);
- **start**: START, YES, UNSTOP;
- **help**: HELP, INFO.

A brand adds its own per kind (`Keywords`, ``PUT /v1/messaging``).

Precedence, before any answer is read: STOP and HELP always win, inside a conversation too — "stop" is never an
answer, and a brand's stop or help keyword may not be a word that answers a question (a number, yes/no, a skip
word). START, YES and UNSTOP (and the brand's start keywords) subscribe the customer again only while they are
opted out of the channel themselves (a STOP, or the carrier's opt-out); otherwise — never opted out, or the brand
withdrew the consent — they are read as any other reply, so YES stays an answer to a yes/no question.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Final, Literal, get_args

import msgspec
from msgspec import Meta

from plumbing.errors import FieldError, pointer
from questionnaires.lexicon import NO_WORDS, NUMBER_WORDS, SKIP_WORDS, STOP_WORDS, YES_WORDS, fold

Kind = Literal["stop", "start", "help"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
MAX_KEYWORD_CHARS: Final = 20
MAX_KEYWORDS: Final = 20
"""Of each kind, per brand."""


def key(text: str) -> str:
    """The form keywords are compared in: folded (`questionnaires.lexicon.fold`) and without accents."""
    decomposed = unicodedata.normalize("NFKD", fold(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


BUILTIN: Final[dict[Kind, frozenset[str]]] = {
    "stop": frozenset(key(w) for w in STOP_WORDS),
    "start": frozenset({"start", "yes", "unstop"}),
    "help": frozenset({"help", "info"}),
}
ANSWER_WORDS: Final = frozenset(key(w) for w in YES_WORDS | NO_WORDS | SKIP_WORDS | set(NUMBER_WORDS))
"""Words that answer a question: a stop or help keyword, which wins over answers, may not be one of them."""

Keyword = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_KEYWORD_CHARS,
        pattern=r"^[^\W_]+$",
        description="Letters and digits, 1–20; matched as the whole message, case- and accent-insensitively.",
        examples=["STOPP"],
    ),
]
KeywordList = Annotated[list[Keyword], Meta(max_length=MAX_KEYWORDS)]


class Keywords(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A brand's own keywords, on top of the built-in ones."""

    stop: KeywordList = []
    """Opt the customer out of the channel, e.g. a local word for STOP."""
    start: KeywordList = []
    """Opt a customer who opted out back in."""
    help: KeywordList = []
    """Answered with the brand's help text."""

    def normalized(self) -> Keywords:
        """The keywords in the form they are matched in (`key`), each once."""
        return Keywords(**{kind: sorted({key(w) for w in getattr(self, kind)}) for kind in KINDS})


def check_keywords(keywords: Keywords, at: str = "/keywords") -> list[FieldError]:
    """What is wrong with a brand's keywords (decoded, so each has its shape): a plain number, a word that
    answers questions as a stop or help keyword, a keyword of two kinds (its own or a built-in one), or one listed
    twice."""
    errors: list[FieldError] = []
    owner: dict[str, Kind] = {}
    for kind in KINDS:
        seen: set[str] = set()
        for index, word in enumerate(getattr(keywords, kind)):
            here = at + pointer(kind, index)
            folded = key(word)
            other = next((k for k in KINDS if k != kind and folded in BUILTIN[k]), None) or owner.get(folded)
            if folded.isdigit():
                errors.append(FieldError(here, "is a number, which answers questions: use a word"))
            elif kind != "start" and folded in ANSWER_WORDS:
                errors.append(
                    FieldError(here, f"answers questions ({word!r}), and a {kind} keyword would take its place")
                )
            elif other is not None and other != kind:
                errors.append(FieldError(here, f"is a {other} keyword already"))
            elif folded in seen:
                errors.append(FieldError(here, "is listed more than once"))
            seen.add(folded)
            owner.setdefault(folded, kind)
    return errors


def keyword_of(text: str, own: Keywords) -> Kind | None:
    """Which keyword `text` is, if its whole text is one; `own` is the brand's (`Keywords.normalized`)."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    folded = key(text)
    for kind in KINDS:
        if folded in BUILTIN[kind] or folded in getattr(own, kind):
            return kind
    return None


def provider_keyword(opt_out_type: str | None) -> Kind | None:
    """The keyword Twilio's Advanced Opt-Out recognized (its ``OptOutType`` parameter), which it answered itself."""
    kind = (opt_out_type or "").strip().lower()
    return kind if kind in KINDS else None  # type: ignore[return-value]
