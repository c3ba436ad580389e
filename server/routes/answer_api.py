"""Answering from an app: the brand's app shows the survey natively and answers it over JSON.

The link token is the only credential (no API key: the app runs on the customer's phone, where no brand secret
belongs). A push notification's data carries it as ``lxt_token``, and as the last segment of ``lxt_url``; a brand
webhook gets it as ``token``. ``GET /v1/responses/{token}`` returns the form (`render_app`) with where the
customer is; ``POST …/answers`` stores one or more answers (each checked as the flow asks it, a repeat changes
nothing, a different value replaces the stored one and is recorded); ``POST …/complete`` ends the survey once every
question the flow asks is answered. The app completes explicitly, so it can let the customer review and change
answers first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Router, get, post
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody, PathParameter
from msgspec import Meta

from questionnaires.flow import End
from questionnaires.locales import definition_locales, language, normalize_locale, pick_locale
from questionnaires.model import MAX_QUESTIONS, AnswerValue
from questionnaires.render import AppForm, render_app
from responses import answers
from responses.answers import Answering, AnswersInvalid, Given, InvitationClosed, InvitationExpired, ResponseState
from server.answering import record_expiry, record_refusal
from server.deps import Conn
from server.errors import ProblemOperation, invalid, problems
from server.routes.params import LocaleQuery

Token = Annotated[
    str,
    PathParameter(
        description="The survey's link token: `lxt_token` in a push notification's data (the last path segment of "
        "its `lxt_url`), `token` in a brand webhook's invitation."
    ),
]

_encode = msgspec.json.Encoder().encode
_CLOSED = {
    409: "The survey was completed: it takes no more answers.",
    410: "The time to answer the survey is over: it takes no more answers.",
}
_UNKNOWN = {404: "No survey has this token (the same answer for any token that is not one)."}


class AnswersIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    answers: Annotated[
        dict[str, AnswerValue],
        Meta(
            min_length=1,
            max_length=MAX_QUESTIONS,
            description="Answers by question id, in the form's types: an integer for a scale, an option `code` for "
            "a single choice, a list of codes for a multi choice, true/false for yes/no, a string for text, a "
            "number for a number; null skips an optional question.",
            examples=[{"nps": 9, "stars": 4}],
        ),
    ]


class ResponseStatus(msgspec.Struct, kw_only=True):
    """Where the customer is."""

    response_state: ResponseState | None
    """`opened` (seen), `partial` (some answers), `completed`, or `expired` (too late to answer)."""
    expires_at: datetime
    """Answers are taken until then."""
    completed_at: datetime | None
    answers: dict[str, AnswerValue]
    """The current answers by question id (null: skipped)."""
    next_question: str | None
    """The id of the next question the flow asks; null when none is left (complete the survey, unless it is
    completed) or the survey takes no more answers."""


class SurveyForm(ResponseStatus, kw_only=True):
    form: AppForm
    """The questions to show, in the customer's language (or `locale`'s)."""


class AnswersStored(ResponseStatus, kw_only=True):
    changed: list[str]
    """The questions whose answer was stored by this request; empty for a repeat."""


async def find(conn: asyncpg.Connection, token: str) -> Answering:
    answering = await answers.find_by_token(conn, token)
    if answering is None:
        raise NotFoundException("no survey has this token")
    return answering


def status(answering: Answering, now: datetime) -> dict[str, Any]:
    step = answering.step
    open_ = answering.closed(now) is None
    return {
        "response_state": answering.response_state,
        "expires_at": answering.expires_at,
        "completed_at": answering.completed_at,
        "answers": answering.answers,
        "next_question": step.question.id if open_ and not isinstance(step, End) else None,
    }


def form_locale(answering: Answering, wanted: str | None) -> str:
    """The customer's locale, or the offered one `wanted` names (``de-CH`` → ``de``); 422 if none is offered."""
    if wanted is None:
        return answering.locale
    offered = definition_locales(answering.definition)
    tag = normalize_locale(wanted)
    if tag is None or all(language(locale) != language(tag) for locale in offered):
        raise invalid("query:locale", f"not a language of this survey; it is in {', '.join(offered)}")
    return pick_locale(answering.definition, tag)


@get(
    "/{token:str}",
    summary="A survey to answer in the app",
    description="The form (in the customer's language, or an offered `locale`) and where the customer is: the "
    "state, the answers so far and the next question. The first read marks the survey opened. A completed or "
    "expired survey is still read (its `response_state` says so).",
    responses=problems(422, 503, described=_UNKNOWN),
    operation_class=ProblemOperation,
)
async def read_survey(conn: Conn, token: Token, locale: LocaleQuery = None) -> SurveyForm:
    answering = await find(conn, token)
    now = datetime.now(UTC)
    wanted = form_locale(answering, locale)
    if isinstance(answering.closed(now), InvitationExpired):
        await record_expiry(conn, answering)
    else:
        await answers.mark_opened(conn, answering, now, "app")
    form = render_app(answering.definition, wanted, version=answering.questionnaire_version)
    return SurveyForm(form=form, **status(answering, now))


@post(
    "/{token:str}/answers",
    status_code=200,
    summary="Store answers",
    description="One or several answers, each to a question the flow asks (in order: a question after one "
    "not yet answered is refused, unless that one is answered in the same request). Sending the same answers "
    "again changes nothing; a different answer replaces the stored one (both are kept), and answers that a "
    "changed answer no longer asks for are dropped. Nothing is stored when any answer is refused.",
    responses=problems(400, 413, 422, 503, described=_UNKNOWN | _CLOSED),
    operation_class=ProblemOperation,
)
async def store_answers(conn: Conn, token: Token, data: JSONBody[AnswersIn]) -> AnswersStored:
    answering = await find(conn, token)
    now = datetime.now(UTC)
    given = [Given(question_id, value, _encode(value).decode()) for question_id, value in data.answers.items()]
    try:
        async with conn.transaction():
            outcome = await answers.give(conn, answering, given, channel="app", now=now, complete_when_done=False)
    except (AnswersInvalid, InvitationClosed) as refusal:
        raw = _encode(data.answers).decode()
        await record_refusal(conn, answering, refusal, channel="app", raw=raw, now=now)
        raise
    return AnswersStored(changed=outcome.changed, **status(outcome.answering, now))


@post(
    "/{token:str}/complete",
    status_code=200,
    summary="Complete the survey",
    description="Once every question the flow asks is answered (or skipped, where optional): 422 names the next "
    "one otherwise. Completing a completed survey changes nothing.",
    responses=problems(422, 503, described=_UNKNOWN | {410: _CLOSED[410]}),
    operation_class=ProblemOperation,
)
async def complete_survey(conn: Conn, token: Token) -> ResponseStatus:
    answering = await find(conn, token)
    now = datetime.now(UTC)
    try:
        async with conn.transaction():
            await answers.complete(conn, answering, channel="app", now=now)
    except InvitationExpired:
        await record_expiry(conn, answering)
        raise
    return ResponseStatus(**status(answering, now))


ROUTER = Router(
    path="/v1/responses",
    route_handlers=[read_survey, store_answers, complete_survey],
    tags=["responses"],
    # Answers are the customer's: no cache between the app and lxt keeps them.
    response_headers={"Cache-Control": "no-store"},
)
