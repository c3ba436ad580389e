"""The brand's messaging settings: its HELP text, its auto-reply, and its own STOP, START and HELP keywords."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Request, get, put
from litestar.datastructures import State
from litestar.params import JSONBody
from msgspec import Meta

from responses import messaging
from responses.keywords import BUILTIN
from responses.messaging import Messaging, MessagingIn
from server.auth import requires
from server.deps import Conn
from server.errors import ProblemOperation, problems
from server.tenants import Principal

Req = Request[Principal, Principal, State]


class MessagingOut(Messaging, kw_only=True, frozen=True):
    builtin_keywords: Annotated[
        dict[str, list[str]],
        Meta(
            description="The keywords every brand has, by kind (case-folded, without accents); the brand's own add "
            "to them."
        ),
    ]


def _out(stored: Messaging) -> MessagingOut:
    return MessagingOut(
        **msgspec.structs.asdict(stored), builtin_keywords={kind: sorted(words) for kind, words in BUILTIN.items()}
    )


_DESCRIPTION = (
    "Keywords are looked at before a message is read as an answer, as the whole message (case, accents and "
    "surrounding punctuation ignored). STOP (and its forms) opts the customer out of the channel at once; START, "
    "YES and UNSTOP opt them back in, but only while they are opted out (otherwise YES answers a question); HELP "
    "and INFO get `help_text`. A message outside any open conversation gets `auto_reply` (or nothing). Texts are "
    "a string, or translations by locale, picked by the customer's locale."
)


@get(
    "/messaging",
    tags=["messaging"],
    opt=requires("manage"),
    summary="The brand's messaging settings",
    description=_DESCRIPTION,
    responses=problems(401, 403, 503),
    operation_class=ProblemOperation,
)
async def read_messaging(request: Req, conn: Conn) -> MessagingOut:
    return _out(await messaging.get_messaging(conn, request.auth.brand_id))


@put(
    "/messaging",
    tags=["messaging"],
    opt=requires("manage"),
    summary="Set the brand's messaging settings",
    description=_DESCRIPTION
    + " Replaces every setting; keywords are stored case-folded, without accents. A keyword "
    "may not be a plain number, a word that answers questions (for stop and help keywords: yes, no, skip and number "
    "words), a keyword of another kind (the brand's or a built-in one), or listed twice.",
    responses=problems(400, 401, 403, 413, 422, 503),
    operation_class=ProblemOperation,
)
async def put_messaging(request: Req, conn: Conn, data: JSONBody[MessagingIn]) -> MessagingOut:
    checked = messaging.check_messaging(data)
    return _out(await messaging.put_messaging(conn, request.auth.brand_id, checked, datetime.now(UTC)))


ROUTES = [read_messaging, put_messaging]
