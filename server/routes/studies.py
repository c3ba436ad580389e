"""Tracking studies: a brand sets one up and enrols participants (scope ``manage``); researchers follow their
compliance (``manage`` or ``export``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from litestar import Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter

from responses.studies import participation as studies
from responses.studies import setup as study_setup
from responses.studies.model import STUDY_KEY_PATTERN, Participant, ParticipantIn, ParticipantPage, Study, StudyIn
from responses.studies.participation import Enrolled
from server import db
from server.auth import requires
from server.deps import Conn
from server.errors import ProblemOperation, problems
from server.routes.params import CursorQuery, ExternalId, LimitQuery, decode_cursor, encode_cursor
from server.tenants import Principal
from triggers.decide import REASONS

Req = Request[Principal, Principal, State]

StudyKey = Annotated[
    str,
    PathParameter(
        pattern=STUDY_KEY_PATTERN,
        description="The study's key: a lower-case letter, then up to 47 letters, digits, '_' or '-'.",
    ),
]

_CONFLICT = {409: "Conflicts with what is stored; `errors` names each field."}
_STUDY = (
    "A real-time experience tracking study. Participants text a code for every encounter with the brand or a "
    "competitor during their diary (`diary_days` from enrolment): brand letter, touchpoint letter, then how "
    "positive (1–5) and how persuasive (1–5) it was, e.g. `BT45`. The pre-survey goes out on enrolment and the "
    "post-survey when the diary ends, through triggers the study owns (`study-{key}-pre` and `-post`, on "
    "touchpoints `study-{key}-enrolled` and `-ended`), so they show in the brand's invitations like any other. "
    "A code is stored as an event on the code book's touchpoint (source `self_report`): an encounter with the own "
    "brand goes through the brand's triggers like any event, one with a competitor is decided "
    f"`competitor_encounter` ({REASONS['competitor_encounter']})"
)


@put(
    "/studies/{key:str}",
    tags=["studies"],
    opt=requires("manage"),
    summary="Create or update a tracking study",
    description=f"{_STUDY}\n\n201 when created, 200 when updated. Code-book touchpoints the brand lacks are created. "
    "Once a participant is enrolled, only `name`, `welcome` and `help` may change (409 naming the others).",
    responses={
        201: ResponseSpec(Study, description="Created", generate_examples=False),
        **problems(400, 401, 403, 413, 422, 503, described=_CONFLICT),
    },
    operation_class=ProblemOperation,
)
async def put_study(request: Req, conn: Conn, key: StudyKey, data: JSONBody[StudyIn]) -> Response[Study]:
    async def work(conn: asyncpg.Connection, _: int) -> tuple[Study, bool]:
        # A study created concurrently fails this with a unique violation: the retry updates it.
        return await study_setup.put_study(conn, request.auth.brand_id, key, data, datetime.now(UTC))

    study, created = await db.with_retries(conn, work)
    return Response(study, status_code=201 if created else 200)


@get(
    "/studies",
    tags=["studies"],
    opt=requires("manage", "export"),
    summary="The brand's tracking studies",
    responses=problems(401, 403, 503),
    operation_class=ProblemOperation,
)
async def list_studies(request: Req, conn: Conn) -> list[Study]:
    return await study_setup.list_studies(conn, request.auth.brand_id)


@get(
    "/studies/{key:str}",
    tags=["studies"],
    opt=requires("manage", "export"),
    summary="One tracking study",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def read_study(request: Req, conn: Conn, key: StudyKey) -> Study:
    found = await study_setup.get_study(conn, request.auth.brand_id, key)
    if found is None:
        raise NotFoundException(f"no study {key!r}")
    return found


@post(
    "/studies/{key:str}/participants",
    tags=["studies"],
    opt=requires("manage"),
    status_code=201,
    summary="Enrol a participant",
    description="Creates or updates the customer (`external_id`, with `phone`, `locale`, `time_zone` as in "
    "`PUT /v1/customers`), records their consent (source `study`) and starts their diary now; the pre-survey is "
    "scheduled at once, its first message opening with the welcome and how to text a code. `consent` must be "
    "true. 201 when enrolled, 200 when already enrolled (nothing changes). 409 for a customer who opted out, "
    "withdrew from this study, or keeps another study's diary.",
    responses={
        200: ResponseSpec(Participant, description="Already enrolled", generate_examples=False),
        **problems(400, 401, 403, 404, 413, 422, 503, described=_CONFLICT),
    },
    operation_class=ProblemOperation,
)
async def enrol(request: Req, conn: Conn, key: StudyKey, data: JSONBody[ParticipantIn]) -> Response[Participant]:
    async def work(conn: asyncpg.Connection, _: int) -> Enrolled | None:
        # A customer created concurrently fails this with a unique violation: the retry finds them.
        return await studies.enrol(conn, request.auth.brand_id, key, data, datetime.now(UTC))

    enrolled = await db.with_retries(conn, work)
    if enrolled is None:
        raise NotFoundException(f"no study {key!r}")
    await request.app.state.ingestor.enqueue(enrolled.jobs)
    return Response(enrolled.participant, status_code=201 if enrolled.created else 200)


@delete(
    "/studies/{key:str}/participants/{external_id:str}",
    tags=["studies"],
    opt=requires("manage"),
    status_code=200,
    summary="Withdraw a participant",
    description="Ends the participant's diary now and cancels their study surveys not sent yet; their reports "
    "stay. Withdrawing again changes nothing; a withdrawn participant cannot be enrolled again.",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def withdraw(request: Req, conn: Conn, key: StudyKey, external_id: ExternalId) -> Participant:
    async with conn.transaction():
        found = await studies.withdraw(conn, request.auth.brand_id, key, external_id, datetime.now(UTC))
    if found is None:
        raise NotFoundException(f"no participant {external_id!r} in study {key!r}")
    return found


@get(
    "/studies/{key:str}/participants",
    tags=["studies"],
    opt=requires("manage", "export"),
    summary="The study's participants and their compliance",
    description="In enrolment order, in pages (`next_cursor` → `cursor`). Compliance: codes texted, per diary "
    "day so far, and prompts (the study's surveys and the brand's triggered ones during the study) sent and "
    "answered.",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def list_participants(
    request: Req, conn: Conn, key: StudyKey, cursor: CursorQuery = None, limit: LimitQuery = 100
) -> ParticipantPage:
    found = await studies.participants(
        conn, request.auth.brand_id, key, decode_cursor(cursor), limit, datetime.now(UTC)
    )
    if found is None:
        raise NotFoundException(f"no study {key!r}")
    items, last = found
    return ParticipantPage(items=items, next_cursor=encode_cursor(*last) if last else None)


ROUTES = [put_study, list_studies, read_study, enrol, withdraw, list_participants]
