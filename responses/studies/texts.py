"""What lxt itself says to a study's participants: the welcome and code format, replies to texted codes, and the
diary page's labels, in the participant's language.

Pure. As in `questionnaires.messages`, one `Catalog` per language with every field required, so a language is
never half-translated; a locale without a catalog gets English. The study's own texts (its name, the code book's
names, `welcome` and `help`) are the brand's, resolved to the participant's locale when translated.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from questionnaires.locales import language, resolve
from responses.studies.codes import NotACode
from responses.studies.model import StudyIn, StudyText

MAX_QUOTED = 20
"""Characters of a participant's text quoted back in a reply."""


class Catalog(msgspec.Struct, frozen=True, kw_only=True):
    welcome: str
    """The default welcome, when the study has none of its own."""
    format: str
    brands: str
    touchpoints: str
    not_a_code: str
    unknown_brand: str
    unknown_touchpoint: str
    bad_ratings: str
    confirmed: str
    comment_link: str
    not_open: str
    ended: str
    post_intro: str
    """Opens the post-survey's first message."""
    # The diary page.
    page_title: str
    page_intro: str
    no_reports: str
    positive: str
    persuasive: str
    comment: str
    save: str
    saved: str
    reported: str


EN = Catalog(
    welcome="Thank you for taking part in {study}! For the next {days} days, text us a code each time you come "
    "across one of these brands.",
    format="Text brand letter, touchpoint letter, then how positive (1-5) and how persuasive (1-5), e.g. {example}.",
    brands="Brands: {letters}.",
    touchpoints="Touchpoints: {letters}.",
    not_a_code="Sorry, '{text}' isn't a code.",
    unknown_brand="Sorry, '{text}' isn't a code: {letter} is not a brand letter.",
    unknown_touchpoint="Sorry, '{text}' isn't a code: {letter} is not a touchpoint letter.",
    bad_ratings="Sorry, '{text}' isn't a code: both ratings go from 1 to 5.",
    confirmed="Thanks! {code}: {brand}, {touchpoint}, positive {positivity}/5, persuasive {persuasiveness}/5.",
    comment_link="Add a comment: {link}",
    not_open="Your diary for {study} opens on {date}. Please text your codes from then on.",
    ended="Your diary for {study} has ended, so we did not record this. Thank you for taking part!",
    post_intro="Your diary for {study} has ended. Thank you! A few last questions:",
    page_title="Your diary: {study}",
    page_intro="Your reports, newest first. Add a comment to any of them.",
    no_reports="No reports yet.",
    positive="positive",
    persuasive="persuasive",
    comment="Comment",
    save="Save",
    saved="Saved.",
    reported="reported",
)

DE = Catalog(
    welcome="Danke, dass Sie an {study} teilnehmen! Schicken Sie uns in den nächsten {days} Tagen jedes Mal einen "
    "Code, wenn Sie einer dieser Marken begegnen.",
    format="Senden Sie Marken-Buchstabe, Kontakt-Buchstabe, dann wie positiv (1-5) und wie überzeugend (1-5), "
    "z.B. {example}.",
    brands="Marken: {letters}.",
    touchpoints="Kontakte: {letters}.",
    not_a_code="'{text}' ist leider kein Code.",
    unknown_brand="'{text}' ist leider kein Code: {letter} ist kein Marken-Buchstabe.",
    unknown_touchpoint="'{text}' ist leider kein Code: {letter} ist kein Kontakt-Buchstabe.",
    bad_ratings="'{text}' ist leider kein Code: beide Bewertungen gehen von 1 bis 5.",
    confirmed="Danke! {code}: {brand}, {touchpoint}, positiv {positivity}/5, überzeugend {persuasiveness}/5.",
    comment_link="Kommentar hinzufügen: {link}",
    not_open="Ihr Tagebuch für {study} beginnt am {date}. Bitte senden Sie Ihre Codes ab dann.",
    ended="Ihr Tagebuch für {study} ist beendet, deshalb haben wir das nicht erfasst. Danke für Ihre Teilnahme!",
    post_intro="Ihr Tagebuch für {study} ist beendet. Vielen Dank! Noch ein paar letzte Fragen:",
    page_title="Ihr Tagebuch: {study}",
    page_intro="Ihre Meldungen, die neuesten zuerst. Sie können jede kommentieren.",
    no_reports="Noch keine Meldungen.",
    positive="positiv",
    persuasive="überzeugend",
    comment="Kommentar",
    save="Speichern",
    saved="Gespeichert.",
    reported="gemeldet",
)

CATALOGS: dict[str, Catalog] = {"en": EN, "de": DE}


def catalog(locale: str | None) -> Catalog:
    """The catalog of `locale`'s language, or English."""
    return CATALOGS.get(language(locale or "en"), EN)


def page_language(locale: str | None) -> str:
    """The language the diary page is written in (its ``lang`` attribute)."""
    wanted = language(locale or "en")
    return wanted if wanted in CATALOGS else "en"


def study_text(text: StudyText, locale: str | None) -> str:
    """One of the study's own texts in the participant's locale (else English, else any translation)."""
    return resolve(text, locale or "en", "en")


def example(study: StudyIn) -> str:
    own = next(letter for letter, brand in study.brands.items() if brand.own)
    return f"{own}{next(iter(study.touchpoints))}45"


def code_format(study: StudyIn, locale: str | None) -> str:
    """How to text a code, with the study's letters: what the welcome and every invalid-code reply explain."""
    cat = catalog(locale)
    brands = ", ".join(f"{letter}={brand.name}" for letter, brand in study.brands.items())
    touchpoints = ", ".join(f"{letter}={touchpoint.name}" for letter, touchpoint in study.touchpoints.items())
    return " ".join(
        [
            cat.format.format(example=example(study)),
            cat.brands.format(letters=brands),
            cat.touchpoints.format(letters=touchpoints),
        ]
    )


def welcome(study: StudyIn, locale: str | None) -> str:
    """The pre-survey's preamble: the welcome (the study's, or the default) and the code format."""
    opening = (
        study_text(study.welcome, locale)
        if study.welcome is not None
        else catalog(locale).welcome.format(study=study.name, days=study.diary_days)
    )
    return f"{opening} {code_format(study, locale)}"


def post_intro(study: StudyIn, locale: str | None) -> str:
    return catalog(locale).post_intro.format(study=study.name)


def invalid_code(study: StudyIn, text: str, problem: NotACode, locale: str | None) -> str:
    """The reply to a text that is not a valid code: what is wrong, the format, and the study's help text."""
    cat = catalog(locale)
    quoted = " ".join(text.split())
    quoted = quoted if len(quoted) <= MAX_QUOTED else quoted[: MAX_QUOTED - 1].rstrip() + "…"
    opening = getattr(cat, problem.problem).format(text=quoted, letter=problem.letter)
    parts = [opening, code_format(study, locale)]
    if study.help is not None:
        parts.append(study_text(study.help, locale))
    return " ".join(parts)


def confirmed(
    *,
    code: str,
    brand: str,
    touchpoint: str,
    positivity: int,
    persuasiveness: int,
    link: str,
    locale: str | None,
) -> str:
    cat = catalog(locale)
    thanks = cat.confirmed.format(
        code=code, brand=brand, touchpoint=touchpoint, positivity=positivity, persuasiveness=persuasiveness
    )
    return f"{thanks} {cat.comment_link.format(link=link)}"


def not_open(study: StudyIn, opens: datetime, locale: str | None) -> str:
    return catalog(locale).not_open.format(study=study.name, date=opens.date().isoformat())


def ended(study: StudyIn, locale: str | None) -> str:
    return catalog(locale).ended.format(study=study.name)
