"""Locales: which translation a customer gets, and where a definition's texts are.

Rendering picks the customer's locale by falling back along its tag (``de-CH`` → ``de``), then to a sibling of
the same language (``de-AT`` → ``de-CH`` when only that is offered), then to the definition's
``default_locale``. Tags from devices arrive in many spellings (``de_ch``, ``DE-CH``), so they are normalized.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from plumbing.errors import pointer
from questionnaires.model import Definition, Text

_TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


def normalize_locale(tag: str) -> str | None:
    """Canonical spelling of a locale tag (``de_ch`` → ``de-CH``, ``zh-hant-tw`` → ``zh-Hant-TW``), or None."""
    tag = tag.strip()
    if len(tag) > 35 or not _TAG.match(tag):
        return None
    parts = re.split(r"[-_]", tag)
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) in (2, 3):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def language(locale: str) -> str:
    """The primary language subtag: ``de-CH`` → ``de``."""
    return locale.split("-", 1)[0].lower()


def fallbacks(locale: str) -> list[str]:
    """The locale and its truncations, most specific first: ``zh-Hant-TW`` → zh-Hant-TW, zh-Hant, zh."""
    parts = locale.split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def definition_locales(definition: Definition) -> list[str]:
    """The locales a definition is offered in: default first, then the declared or used ones in order."""
    found = [definition.default_locale]
    if definition.locales is not None:
        candidates: Sequence[str] = definition.locales
    else:
        candidates = [loc for _, text in iter_texts(definition) if isinstance(text, dict) for loc in text]
    for loc in candidates:
        if loc not in found:
            found.append(loc)
    return found


def pick_locale(definition: Definition, wanted: str | Sequence[str] | None) -> str:
    """The offered locale that best serves the customer's preference(s), most preferred first."""
    offered = definition_locales(definition)
    prefs = [wanted] if isinstance(wanted, str) else list(wanted or [])
    normalized = [n for n in (normalize_locale(p) for p in prefs[:10] if isinstance(p, str)) if n]
    for tag in normalized:
        for candidate in fallbacks(tag):
            if candidate in offered:
                return candidate
    for tag in normalized:
        sibling = next((loc for loc in offered if language(loc) == language(tag)), None)
        if sibling is not None:
            return sibling
    return definition.default_locale


def resolve(text: Text, locale: str, default_locale: str) -> str:
    """The text in `locale`, falling back along the tag and then to `default_locale`."""
    if isinstance(text, str):
        return text
    for candidate in [*fallbacks(locale), default_locale]:
        if candidate in text:
            return text[candidate]
    return next(iter(text.values()))


def iter_texts(definition: Definition) -> Iterator[tuple[str, Text]]:
    """Every human-readable text of a definition with its JSON pointer, in document order."""
    yield "/title", definition.title
    if definition.intro is not None:
        yield "/intro", definition.intro
    if definition.thank_you is not None:
        yield "/thank_you", definition.thank_you
    for i, question in enumerate(definition.questions):
        at = pointer("questions", i)
        yield at + "/text", question.text
        for name in ("min_label", "max_label"):
            label = getattr(question, name, None)
            if label is not None:
                yield f"{at}/{name}", label
        for j, option in enumerate(getattr(question, "options", ())):
            yield f"{at}/options/{j}/label", option.label


def text_locales(text: Text, default_locale: str) -> set[str]:
    """The locales a text is written in; a plain string is in the default locale."""
    return {default_locale} if isinstance(text, str) else set(text)
