"""The web survey page, ``/s/{token}``: the link an SMS, WhatsApp message or push notification carries.

``GET`` shows the next question the flow asks (or, with ``?q=<id>``, an answered one to change), ``POST`` saves
the answer to the question the form names and redirects back (303, Post/Redirect/Get), so a reload never posts
twice and the page after an answer is always the flow's next. Each answer is stored as it is given, so a
customer who leaves resumes where they stopped. Pages work without JavaScript.

The token in the path is the customer's only credential: an unknown token and one of the wrong shape get the
same 404 page, byte for byte, and the token is kept out of logs (`server.logs`) and referrers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect

from plumbing.errors import FieldError
from questionnaires.flow import End
from questionnaires.messages import catalog
from responses import answers
from responses.answers import Answering, AnswersInvalid, InvitationClosed, InvitationCompleted, InvitationExpired
from server.answering import record_expiry, record_refusal
from server.deps import Conn
from server.pages import PAGE_EXCEPTION_HANDLERS, PAGE_HEADERS, message_page, not_found_page, page
from server.survey import is_link_preview, question_page, read_answer, revisit, thanks_page

Req = Request[Any, Any, Any]
_encode = msgspec.json.Encoder().encode
Token = Annotated[str, PathParameter(description="The survey's link token.")]
Revisit = Annotated[str | None, QueryParameter(name="q", description="An answered question to show again.")]


@get("/{token:str}", include_in_schema=False)
async def show(request: Req, conn: Conn, token: Token, revisit_id: Revisit = None) -> Response[Any]:
    answering = await answers.find_by_token(conn, token)
    if answering is None:
        return not_found_page(request)
    now = datetime.now(UTC)
    closed = await closed_page(conn, answering, now)
    if closed is not None:
        return closed
    if not is_link_preview(request.headers.get("user-agent", "")):
        await answers.mark_opened(conn, answering, now, "web")
    step = answering.step
    if isinstance(step, End):
        # Everything asked was answered elsewhere (the app completes explicitly): on the page, that is the end.
        try:
            async with conn.transaction():
                await answers.complete(conn, answering, channel="web", now=now)
        except InvitationExpired:  # expired by another process meanwhile
            await record_expiry(conn, answering)
            return again(token)
        return page("thanks.html.j2", thanks_page(answering))
    if revisit_id is not None:
        step = revisit(answering.definition, answering.answers, revisit_id) or step
    return page("question.html.j2", question_page(answering, step))


@post("/{token:str}", include_in_schema=False)
async def answer(request: Req, conn: Conn, token: Token) -> Response[Any]:
    answering = await answers.find_by_token(conn, token)
    if answering is None:
        return not_found_page(request)
    now = datetime.now(UTC)
    form = await request.form()
    closed = answering.closed(now)
    if closed is not None:
        await record_refusal(conn, answering, closed, channel="web", raw=_raw_form(form), now=now)
        return again(token)  # the page says why it is closed
    question_id = form.get("question")
    step = answering.step
    if isinstance(step, End) or question_id != step.question.id:
        step = revisit(answering.definition, answering.answers, str(question_id))
        if step is None:  # a stale page (another tab went on, or the flow changed): show where it is now
            return again(token)
    posted = [value for value in form.getall("answer", []) if isinstance(value, str)]
    given = read_answer(step.question, posted, "skip" in form, answering.locale)
    if isinstance(given, str):
        refusal = AnswersInvalid([FieldError(f"/answers/{step.question.id}", given)])
        await record_refusal(conn, answering, refusal, channel="web", raw=_raw_form(form), now=now)
        return page("question.html.j2", question_page(answering, step, values=posted, error=given), 422)
    try:
        async with conn.transaction():
            await answers.give(conn, answering, [given], channel="web", now=now)
    except (InvitationClosed, AnswersInvalid) as refusal:
        # Expired or completed meanwhile, or changed from another tab: kept, and the page shows where it is now.
        await record_refusal(conn, answering, refusal, channel="web", raw=_raw_form(form), now=now)
    return again(token)


def _raw_form(form: FormMultiDict) -> str:
    """The posted form as received (without the page's own fields), for the record of a refused submission."""
    return _encode({key: form.getall(key) for key in form if key != "question"}).decode()


def again(token: str) -> Redirect:
    """303 to the survey's page. Relative, like every link of the pages (`server.pages`)."""
    return Redirect(token, status_code=303, headers=dict(PAGE_HEADERS))


async def closed_page(conn: asyncpg.Connection, answering: Answering, now: datetime) -> Response[Any] | None:
    """The page of an invitation that takes no more answers (thanks, or too late), or None while it does."""
    closed = answering.closed(now)
    if isinstance(closed, InvitationCompleted):
        return page("thanks.html.j2", thanks_page(answering))
    if isinstance(closed, InvitationExpired):
        await record_expiry(conn, answering)
        texts = catalog(answering.locale)
        return message_page(answering.locale, texts.expired_heading, texts.expired_text, 410)
    return None


ROUTER = Router(path="/s", route_handlers=[show, answer], exception_handlers=PAGE_EXCEPTION_HANDLERS)
