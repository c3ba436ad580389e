"""Fixed texts lxt sends back by SMS or WhatsApp outside a survey's questions: opt-out and opt-in confirmations,
the default HELP text, and the closing of a conversation that cannot go on.

One `Texts` per language, every field required (a language cannot be added half-translated); a locale without
its own gets English, as `questionnaires.messages` does. ``{brand}`` is the brand's name. The keywords STOP and
START stay in English in every language: they are what carriers honour everywhere.
"""

from __future__ import annotations

import msgspec

from questionnaires.locales import fallbacks, language
from questionnaires.model import Text
from questionnaires.render import SmsMessage, sms_message


class Texts(msgspec.Struct, frozen=True, kw_only=True):
    stopped: str
    """After STOP: the customer gets nothing more on this channel."""
    started: str
    """After START: subscribed again."""
    help: str
    """The answer to HELP when the brand set none of its own."""
    survey_closed: str
    """A reply to a conversation whose invitation's time is over."""
    gave_up: str
    """A required question still not answered readably after the re-prompts: the conversation ends."""


EN = Texts(
    stopped="{brand}: you are unsubscribed and will get no more messages. Reply START to subscribe again.",
    started="{brand}: you are subscribed again. Reply STOP to unsubscribe.",
    help="{brand}: short surveys about your experience. Reply STOP to unsubscribe.",
    survey_closed="Sorry, this survey has closed. Thank you!",
    gave_up="Sorry, we could not read your answer, so we will leave it there. Thank you for your time!",
)

DE = Texts(
    stopped="{brand}: Sie sind abgemeldet und erhalten keine Nachrichten mehr. Antworten Sie START, um sich "
    "wieder anzumelden.",
    started="{brand}: Sie sind wieder angemeldet. Antworten Sie STOP, um sich abzumelden.",
    help="{brand}: kurze Umfragen zu Ihren Erfahrungen. Antworten Sie STOP, um sich abzumelden.",
    survey_closed="Diese Umfrage ist leider beendet. Vielen Dank!",
    gave_up="Wir konnten Ihre Antwort leider nicht lesen und beenden die Umfrage hier. Vielen Dank für Ihre Zeit!",
)

FR = Texts(
    stopped="{brand} : vous êtes désinscrit et ne recevrez plus de messages. Répondez START pour vous réinscrire.",
    started="{brand} : vous êtes de nouveau inscrit. Répondez STOP pour vous désinscrire.",
    help="{brand} : de courts sondages sur votre expérience. Répondez STOP pour vous désinscrire.",
    survey_closed="Désolé, ce sondage est terminé. Merci !",
    gave_up="Désolé, nous n'avons pas pu lire votre réponse et arrêtons là. Merci pour votre temps !",
)

ES = Texts(
    stopped="{brand}: se ha dado de baja y no recibirá más mensajes. Responda START para volver a darse de alta.",
    started="{brand}: se ha vuelto a dar de alta. Responda STOP para darse de baja.",
    help="{brand}: encuestas breves sobre su experiencia. Responda STOP para darse de baja.",
    survey_closed="Lo sentimos, esta encuesta ha terminado. ¡Gracias!",
    gave_up="Lo sentimos, no pudimos leer su respuesta y lo dejamos aquí. ¡Gracias por su tiempo!",
)

NL = Texts(
    stopped="{brand}: u bent afgemeld en krijgt geen berichten meer. Antwoord START om u weer aan te melden.",
    started="{brand}: u bent weer aangemeld. Antwoord STOP om u af te melden.",
    help="{brand}: korte enquêtes over uw ervaring. Antwoord STOP om u af te melden.",
    survey_closed="Sorry, deze enquête is gesloten. Bedankt!",
    gave_up="Sorry, we konden uw antwoord niet lezen en stoppen hier. Bedankt voor uw tijd!",
)

TEXTS: dict[str, Texts] = {"en": EN, "de": DE, "fr": FR, "es": ES, "nl": NL}


def texts(locale: str | None) -> Texts:
    """The texts of `locale`'s language, or English."""
    return TEXTS.get(language(locale), EN) if locale else EN


def own_text(text: Text, locale: str | None) -> str:
    """A brand's own text (plain, or locale → text) in the customer's locale: the locale and its truncations
    (``de-CH``, ``de``), then English, then the first one the brand wrote."""
    if isinstance(text, str):
        return text
    for candidate in [*(fallbacks(locale) if locale else []), "en"]:
        if candidate in text:
            return text[candidate]
    return next(iter(text.values()))


def sms(text: str, locale: str | None) -> SmsMessage:
    """`text` as lxt sends it: GSM-7-friendly (`questionnaires.render.sms_message`)."""
    return sms_message(text, locale or "en")
