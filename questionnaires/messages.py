"""Fixed texts lxt adds around a brand's questions: reply instructions, re-prompts, button labels.

One `Catalog` per language; every field is required, so a language cannot be added half-translated. A locale
without a catalog gets English (the brand's own texts are still in the customer's locale).
"""

from __future__ import annotations

import msgspec

from questionnaires.locales import language


class Catalog(msgspec.Struct, frozen=True, kw_only=True):
    # SMS reply instructions, appended under the question.
    reply_range: str
    reply_yes_no: str
    reply_multi: str
    reply_text: str
    reply_number: str
    reply_number_range: str
    or_skip: str
    """Appended to an optional question's instruction, with its own leading punctuation."""
    up_to: str
    # Re-prompts after an answer that could not be understood (`Invalid.reprompt`).
    expect_range: str
    expect_whole_number: str
    expect_number: str
    expect_number_min: str
    expect_number_max: str
    expect_yes_no: str
    expect_option: str
    expect_options: str
    too_few: str
    too_many: str
    too_long: str
    expect_text: str
    required: str
    # Web and app labels.
    yes: str
    no: str
    progress: str
    submit: str
    next: str
    skip: str
    thank_you: str
    skip_word: str
    """The SMS keyword to skip an optional question in this language (any language's word is accepted)."""
    link_invite: str
    """The ``link`` style's SMS: the questionnaire's title and the survey link."""
    push_invite: str
    """A push notification's body under the questionnaire's title."""
    # The web survey page's own texts (the questionnaire's are the brand's).
    back: str
    optional: str
    """Shown after the text of a question that may be skipped."""
    error_prefix: str
    """Before an error message and in the page title of a page with one, for screen readers."""
    characters: str
    """The live counter under a text answer."""
    stars: str
    """The accessible name of one star of a rating."""
    scale_point: str
    """The accessible name of one face of an emoji rating."""
    choose_any: str
    choose_up_to: str
    choose_from_to: str
    number_range: str
    """Under a number question with both bounds; `number_min`, `number_max` with one."""
    number_min: str
    number_max: str
    answers_saved: str
    expired_heading: str
    expired_text: str
    unknown_heading: str
    unknown_text: str
    error_heading: str
    error_text: str
    try_again: str


EN = Catalog(
    reply_range="Reply {min}-{max}",
    reply_yes_no="Reply 1 for Yes, 2 for No",
    reply_multi="Reply with numbers, e.g. 1,3",
    reply_text="Reply in your own words",
    reply_number="Reply with a number",
    reply_number_range="Reply with a number from {min} to {max}",
    or_skip=", or {word} to skip",
    up_to="up to {max}",
    expect_range="Please reply with a number from {min} to {max}.",
    expect_whole_number="Please reply with a whole number.",
    expect_number="Please reply with a number.",
    expect_number_min="Please reply with a number of at least {min}.",
    expect_number_max="Please reply with a number of at most {max}.",
    expect_yes_no="Please reply 1 for Yes or 2 for No.",
    expect_option="Please reply with one number from 1 to {n}.",
    expect_options="Please reply with numbers from 1 to {n}, e.g. 1,3.",
    too_few="Please choose at least {min}.",
    too_many="Please choose at most {max}.",
    too_long="Please keep your answer to {max} characters.",
    expect_text="Please send your answer.",
    required="Please answer this question.",
    yes="Yes",
    no="No",
    progress="{position} of {total}",
    submit="Send",
    next="Next",
    skip="Skip",
    thank_you="Thank you!",
    skip_word="SKIP",
    link_invite="{title}: how did it go? Tell us in a minute: {link}",
    push_invite="How did it go? Tell us in a minute.",
    back="Back",
    optional="optional",
    error_prefix="Error:",
    characters="{count} of {max} characters",
    stars="{n} of {max} stars",
    scale_point="{n} of {max}",
    choose_any="Choose all that apply.",
    choose_up_to="Choose up to {max}.",
    choose_from_to="Choose {min} to {max}.",
    number_range="A number from {min} to {max}.",
    number_min="A number of at least {min}.",
    number_max="A number of at most {max}.",
    answers_saved="Your answers have been saved.",
    expired_heading="This survey has closed",
    expired_text="The time to answer it is over. Thank you for your interest.",
    unknown_heading="Survey not found",
    unknown_text="This link does not lead to a survey. Please check that you opened the whole link from your message.",
    error_heading="Something went wrong",
    error_text="Your answers so far are saved. Please try again in a moment.",
    try_again="Try again",
)

DE = Catalog(
    reply_range="Antworten Sie mit {min}-{max}",
    reply_yes_no="Antworten Sie 1 für Ja, 2 für Nein",
    reply_multi="Antworten Sie mit Zahlen, z.B. 1,3",
    reply_text="Antworten Sie in eigenen Worten",
    reply_number="Antworten Sie mit einer Zahl",
    reply_number_range="Antworten Sie mit einer Zahl von {min} bis {max}",
    or_skip=" oder {word} zum Überspringen",
    up_to="bis zu {max}",
    expect_range="Bitte antworten Sie mit einer Zahl von {min} bis {max}.",
    expect_whole_number="Bitte antworten Sie mit einer ganzen Zahl.",
    expect_number="Bitte antworten Sie mit einer Zahl.",
    expect_number_min="Bitte antworten Sie mit einer Zahl ab {min}.",
    expect_number_max="Bitte antworten Sie mit einer Zahl bis {max}.",
    expect_yes_no="Bitte antworten Sie 1 für Ja oder 2 für Nein.",
    expect_option="Bitte antworten Sie mit einer Zahl von 1 bis {n}.",
    expect_options="Bitte antworten Sie mit Zahlen von 1 bis {n}, z.B. 1,3.",
    too_few="Bitte wählen Sie mindestens {min}.",
    too_many="Bitte wählen Sie höchstens {max}.",
    too_long="Bitte antworten Sie mit höchstens {max} Zeichen.",
    expect_text="Bitte senden Sie Ihre Antwort.",
    required="Bitte beantworten Sie diese Frage.",
    yes="Ja",
    no="Nein",
    progress="{position} von {total}",
    submit="Senden",
    next="Weiter",
    skip="Überspringen",
    thank_you="Vielen Dank!",
    skip_word="WEITER",
    link_invite="{title}: Wie war es? Sagen Sie es uns in einer Minute: {link}",
    push_invite="Wie war es? Sagen Sie es uns in einer Minute.",
    back="Zurück",
    optional="optional",
    error_prefix="Fehler:",
    characters="{count} von {max} Zeichen",
    stars="{n} von {max} Sternen",
    scale_point="{n} von {max}",
    choose_any="Wählen Sie alle zutreffenden aus.",
    choose_up_to="Wählen Sie bis zu {max}.",
    choose_from_to="Wählen Sie {min} bis {max}.",
    number_range="Eine Zahl von {min} bis {max}.",
    number_min="Eine Zahl ab {min}.",
    number_max="Eine Zahl bis {max}.",
    answers_saved="Ihre Antworten wurden gespeichert.",
    expired_heading="Diese Umfrage ist beendet",
    expired_text="Die Zeit zum Antworten ist abgelaufen. Danke für Ihr Interesse.",
    unknown_heading="Umfrage nicht gefunden",
    unknown_text="Dieser Link führt zu keiner Umfrage. Bitte prüfen Sie, ob Sie den ganzen Link aus Ihrer Nachricht geöffnet haben.",
    error_heading="Etwas ist schiefgelaufen",
    error_text="Ihre bisherigen Antworten sind gespeichert. Bitte versuchen Sie es gleich noch einmal.",
    try_again="Erneut versuchen",
)

FR = Catalog(
    reply_range="Répondez de {min} à {max}",
    reply_yes_no="Répondez 1 pour Oui, 2 pour Non",
    reply_multi="Répondez avec des numéros, p. ex. 1,3",
    reply_text="Répondez avec vos mots",
    reply_number="Répondez avec un nombre",
    reply_number_range="Répondez avec un nombre de {min} à {max}",
    or_skip=", ou {word} pour ignorer",
    up_to="jusqu'à {max}",
    expect_range="Merci de répondre par un nombre de {min} à {max}.",
    expect_whole_number="Merci de répondre par un nombre entier.",
    expect_number="Merci de répondre par un nombre.",
    expect_number_min="Merci de répondre par un nombre d'au moins {min}.",
    expect_number_max="Merci de répondre par un nombre d'au plus {max}.",
    expect_yes_no="Merci de répondre 1 pour Oui ou 2 pour Non.",
    expect_option="Merci de répondre par un numéro de 1 à {n}.",
    expect_options="Merci de répondre par des numéros de 1 à {n}, p. ex. 1,3.",
    too_few="Merci d'en choisir au moins {min}.",
    too_many="Merci d'en choisir au plus {max}.",
    too_long="Merci de répondre en {max} caractères au plus.",
    expect_text="Merci d'envoyer votre réponse.",
    required="Merci de répondre à cette question.",
    yes="Oui",
    no="Non",
    progress="{position} sur {total}",
    submit="Envoyer",
    next="Suivant",
    skip="Passer",
    thank_you="Merci !",
    skip_word="PASSER",
    link_invite="{title} : comment cela s'est-il passé ? Dites-le-nous en une minute : {link}",
    push_invite="Comment cela s'est-il passé ? Dites-le-nous en une minute.",
    back="Retour",
    optional="facultatif",
    error_prefix="Erreur :",
    characters="{count} caractères sur {max}",
    stars="{n} sur {max} étoiles",
    scale_point="{n} sur {max}",
    choose_any="Choisissez toutes les réponses qui conviennent.",
    choose_up_to="Choisissez-en jusqu'à {max}.",
    choose_from_to="Choisissez-en de {min} à {max}.",
    number_range="Un nombre de {min} à {max}.",
    number_min="Un nombre d'au moins {min}.",
    number_max="Un nombre d'au plus {max}.",
    answers_saved="Vos réponses ont été enregistrées.",
    expired_heading="Cette enquête est close",
    expired_text="Le délai pour y répondre est dépassé. Merci de votre intérêt.",
    unknown_heading="Enquête introuvable",
    unknown_text="Ce lien ne mène à aucune enquête. Vérifiez que vous avez ouvert le lien complet de votre message.",
    error_heading="Un problème est survenu",
    error_text="Vos réponses jusqu'ici sont enregistrées. Veuillez réessayer dans un instant.",
    try_again="Réessayer",
)

ES = Catalog(
    reply_range="Responda del {min} al {max}",
    reply_yes_no="Responda 1 para Sí, 2 para No",
    reply_multi="Responda con números, p. ej. 1,3",
    reply_text="Responda con sus palabras",
    reply_number="Responda con un número",
    reply_number_range="Responda con un número del {min} al {max}",
    or_skip=", o {word} para omitir",
    up_to="hasta {max}",
    expect_range="Por favor, responda con un número del {min} al {max}.",
    expect_whole_number="Por favor, responda con un número entero.",
    expect_number="Por favor, responda con un número.",
    expect_number_min="Por favor, responda con un número de al menos {min}.",
    expect_number_max="Por favor, responda con un número de como máximo {max}.",
    expect_yes_no="Por favor, responda 1 para Sí o 2 para No.",
    expect_option="Por favor, responda con un número del 1 al {n}.",
    expect_options="Por favor, responda con números del 1 al {n}, p. ej. 1,3.",
    too_few="Por favor, elija al menos {min}.",
    too_many="Por favor, elija como máximo {max}.",
    too_long="Por favor, responda con {max} caracteres como máximo.",
    expect_text="Por favor, envíe su respuesta.",
    required="Por favor, responda a esta pregunta.",
    yes="Sí",
    no="No",
    progress="{position} de {total}",
    submit="Enviar",
    next="Siguiente",
    skip="Saltar",
    thank_you="¡Gracias!",
    skip_word="SALTAR",
    link_invite="{title}: ¿qué tal fue? Cuéntenoslo en un minuto: {link}",
    push_invite="¿Qué tal fue? Cuéntenoslo en un minuto.",
    back="Atrás",
    optional="opcional",
    error_prefix="Error:",
    characters="{count} de {max} caracteres",
    stars="{n} de {max} estrellas",
    scale_point="{n} de {max}",
    choose_any="Elija todas las que correspondan.",
    choose_up_to="Elija hasta {max}.",
    choose_from_to="Elija de {min} a {max}.",
    number_range="Un número del {min} al {max}.",
    number_min="Un número de al menos {min}.",
    number_max="Un número de como máximo {max}.",
    answers_saved="Sus respuestas se han guardado.",
    expired_heading="Esta encuesta ha finalizado",
    expired_text="El plazo para responder ha terminado. Gracias por su interés.",
    unknown_heading="Encuesta no encontrada",
    unknown_text="Este enlace no lleva a ninguna encuesta. Compruebe que ha abierto el enlace completo de su mensaje.",
    error_heading="Algo ha salido mal",
    error_text="Sus respuestas hasta ahora están guardadas. Inténtelo de nuevo en un momento.",
    try_again="Reintentar",
)

NL = Catalog(
    reply_range="Antwoord met {min}-{max}",
    reply_yes_no="Antwoord 1 voor Ja, 2 voor Nee",
    reply_multi="Antwoord met nummers, bijv. 1,3",
    reply_text="Antwoord in uw eigen woorden",
    reply_number="Antwoord met een getal",
    reply_number_range="Antwoord met een getal van {min} tot {max}",
    or_skip=", of {word} om over te slaan",
    up_to="maximaal {max}",
    expect_range="Graag een getal van {min} tot {max}.",
    expect_whole_number="Graag een heel getal.",
    expect_number="Graag een getal.",
    expect_number_min="Graag een getal van minstens {min}.",
    expect_number_max="Graag een getal van hoogstens {max}.",
    expect_yes_no="Antwoord graag 1 voor Ja of 2 voor Nee.",
    expect_option="Antwoord graag met een nummer van 1 tot {n}.",
    expect_options="Antwoord graag met nummers van 1 tot {n}, bijv. 1,3.",
    too_few="Kies er minstens {min}.",
    too_many="Kies er hoogstens {max}.",
    too_long="Gebruik maximaal {max} tekens.",
    expect_text="Stuur graag uw antwoord.",
    required="Beantwoord deze vraag graag.",
    yes="Ja",
    no="Nee",
    progress="{position} van {total}",
    submit="Versturen",
    next="Volgende",
    skip="Overslaan",
    thank_you="Bedankt!",
    skip_word="OVERSLAAN",
    link_invite="{title}: hoe ging het? Vertel het ons in een minuut: {link}",
    push_invite="Hoe ging het? Vertel het ons in een minuut.",
    back="Terug",
    optional="optioneel",
    error_prefix="Fout:",
    characters="{count} van {max} tekens",
    stars="{n} van {max} sterren",
    scale_point="{n} van {max}",
    choose_any="Kies alles wat van toepassing is.",
    choose_up_to="Kies er maximaal {max}.",
    choose_from_to="Kies er {min} tot {max}.",
    number_range="Een getal van {min} tot {max}.",
    number_min="Een getal van minstens {min}.",
    number_max="Een getal van hoogstens {max}.",
    answers_saved="Uw antwoorden zijn opgeslagen.",
    expired_heading="Deze enquête is gesloten",
    expired_text="De tijd om te antwoorden is voorbij. Bedankt voor uw interesse.",
    unknown_heading="Enquête niet gevonden",
    unknown_text="Deze link leidt niet naar een enquête. Controleer of u de volledige link uit uw bericht hebt geopend.",
    error_heading="Er ging iets mis",
    error_text="Uw antwoorden tot nu toe zijn opgeslagen. Probeer het zo meteen opnieuw.",
    try_again="Opnieuw proberen",
)

CATALOGS: dict[str, Catalog] = {"en": EN, "de": DE, "fr": FR, "es": ES, "nl": NL}


def catalog(locale: str) -> Catalog:
    """The catalog of `locale`'s language, or English."""
    return CATALOGS.get(language(locale), EN)


def format_number(value: float) -> str:
    """A bound as people write it: 5.0 → '5', 2.5 → '2.5'."""
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
