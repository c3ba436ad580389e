"""Events: brand systems report customer contacts (scope ``ingest``); brand engineers read back what was decided."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from plumbing.errors import FieldError
from server.auth import requires
from server.deps import Conn
from server.errors import ApiError, ProblemOperation, problems
from server.routes.params import IdempotencyKeyPath
from server.tenants import Principal
from triggers import history
from triggers.decide import REASONS
from triggers.events import MAX_BATCH, BatchResult, EventBatch, EventIn, EventResult, check_events
from triggers.history import StoredEvent
from triggers.idempotency import clashes
from triggers.schedule import Pending

_REASONS_DOC = "\n".join(f"- `{code}`: {text}" for code, text in REASONS.items())
_IDEMPOTENCY = (
    "The `idempotency_key` (the brand's event id) makes retries safe: repeating it returns the original result "
    "and creates nothing new; reusing it for a different event is a 409."
)


@post(
    "/events",
    tags=["events"],
    opt=requires("ingest"),
    status_code=202,
    summary="Report one touchpoint event",
    description="Stores the event and decides at once whether to survey the customer. 202: stored now; 200: "
    f"a replay of an idempotency key (header `Idempotent-Replayed: true`). {_IDEMPOTENCY}\n\n"
    f"Decision reasons when not surveyed:\n{_REASONS_DOC}",
    responses={
        200: ResponseSpec(
            EventResult,
            description="A replay of an idempotency key: the original result (header `Idempotent-Replayed: true`)",
            generate_examples=False,
        ),
        **problems(
            400, 401, 403, 413, 422, 503, described={409: "The idempotency key was used for a different event."}
        ),
    },
    operation_class=ProblemOperation,
)
async def report_event(
    request: Request[Principal, Principal, object], data: JSONBody[EventIn]
) -> Response[EventResult]:
    (valid,) = check_events([data], datetime.now(UTC), batch=False)
    (result,) = await request.app.state.ingestor.submit([Pending(request.auth.brand_id, valid)])
    if result.status == "conflict":
        raise _conflict(["/idempotency_key"])
    if result.status == "duplicate":
        return Response(result, status_code=200, headers={"Idempotent-Replayed": "true"})
    return Response(result, status_code=202)


@post(
    "/events/batch",
    tags=["events"],
    opt=requires("ingest"),
    status_code=200,
    summary=f"Report up to {MAX_BATCH} touchpoint events at once",
    description="All events are validated first: one bad event rejects the batch (422 naming it, nothing stored). "
    "Each result has status `created` or `duplicate` (or, if another request stored the same key with a "
    "different event at the same moment, `conflict`, describing that stored event). " + _IDEMPOTENCY,
    responses=problems(
        400,
        401,
        403,
        413,
        422,
        503,
        described={409: "An idempotency key was used for a different event (in the batch or before)."},
    ),
    operation_class=ProblemOperation,
)
async def report_events(request: Request[Principal, Principal, object], data: JSONBody[EventBatch]) -> BatchResult:
    valid = check_events(data.events, datetime.now(UTC), batch=True)
    within = clashes((item.event.idempotency_key, item.payload_hash) for item in valid)
    if within:
        raise _conflict([f"/events/{i}/idempotency_key" for i in within])
    pending = [Pending(request.auth.brand_id, item) for item in valid]
    ingestor = request.app.state.ingestor
    existing = await ingestor.conflicts(pending)
    if existing:
        raise _conflict([f"/events/{i}/idempotency_key" for i in existing])
    return BatchResult(results=await ingestor.submit(pending))


class Validated(msgspec.Struct):
    valid: bool
    idempotency_key: str
    occurred_at: datetime


@post(
    "/events/validate",
    tags=["events"],
    opt=requires("ingest"),
    status_code=200,
    summary="Check an event without storing it",
    description="Runs exactly the validation of `POST /v1/events` (422 naming each bad field) and stores nothing: "
    "for testing an integration.",
    responses=problems(400, 401, 403, 413, 422, 503),
    operation_class=ProblemOperation,
)
async def validate_event(data: JSONBody[EventIn]) -> Validated:
    (valid,) = check_events([data], datetime.now(UTC), batch=False)
    return Validated(valid=True, idempotency_key=data.idempotency_key, occurred_at=valid.occurred_at)


@get(
    "/events/{idempotency_key:path}",
    tags=["events"],
    opt=requires("manage", "export"),
    summary="An event as stored, with its decision and each trigger's evaluation",
    description="Why a customer was (or was not) surveyed: the event as lxt stored it, the one decision made "
    "about it (`scheduled` with its invitation, or `not_surveyed` with the reason), and what each trigger of its "
    "touchpoint made of it (`evaluations`, in the order they were looked at). Events are found by their "
    "idempotency key while it is remembered (30 days); keys that are exactly `batch` or `validate` name the "
    "reporting routes here and cannot be read back this way.",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def read_event(
    request: Request[Principal, Principal, State], conn: Conn, idempotency_key: IdempotencyKeyPath
) -> StoredEvent:
    idempotency_key = idempotency_key.removeprefix("/")
    found = await history.get_event(conn, request.auth.brand_id, idempotency_key)
    if found is None:
        raise NotFoundException(f"no event with idempotency key {idempotency_key!r}")
    return found


def _conflict(pointers: list[str]) -> ApiError:
    message = "this idempotency key was already used for a different event"
    return ApiError(
        409,
        f"{message}: {', '.join(pointers)}",
        errors=[FieldError(p, message) for p in pointers],
    )


ROUTES = [report_event, report_events, validate_event, read_event]
