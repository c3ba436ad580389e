"""Statistics for researchers (scopes ``manage`` or ``export``): figures per touchpoint, trigger and questionnaire
version over time, with confidence intervals, and a tracking study's shares of experience and touchpoint impact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Request, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from questionnaires.model import SLUG_PATTERN
from research.stats import studies, touchpoints
from research.stats.methods import MIN_N_NPS
from research.stats.model import BucketSize, Dimension, Stats, StudyStats
from research.stats.query import DEFAULT_RANGE, EARLIEST, MAX_BUCKETS, stats_query
from server.auth import requires
from server.deps import Conn
from server.errors import ProblemOperation, problems
from server.routes.params import FromTime, KeyQuery, ToTime, parse_time
from server.routes.studies import StudyKey
from server.tenants import Principal

Req = Request[Principal, Principal, State]

BucketQuery = Annotated[
    BucketSize, QueryParameter(description="`day` (calendar days) or `week` (ISO weeks, Monday first) in `tz`.")
]
TimeZoneQuery = Annotated[
    str,
    QueryParameter(min_length=1, max_length=64, description="IANA time zone of the buckets, e.g. Europe/Berlin."),
]

_FIGURES = (
    "Per group (and `overall`), over the range (`total`) and per bucket (`buckets`, every day or week in order, "
    "empty ones with zero counts and null scores): events; invitations, sends, deliveries; surveys started and "
    "completed (`responses`); the response rate (completed / sent); NPS, CSAT top-two-box and each scale "
    "question's mean and top-two-box, with 95% intervals; median and 90th-percentile minutes from the contact to "
    "the first answer and to completion; why events were not surveyed (`not_surveyed`, by decision reason) and "
    "which invitations ended unsent (`unsent`: suppressed, expired, failed, cancelled, with their reason). A bucket "
    "counts the contacts that occurred in it and whatever followed from them. An interval is null, with the reason "
    f"in `no_interval`, where its method does not hold (NPS: n < {MIN_N_NPS} or no variance; means: n < 2 or no "
    "variance); `methods` says how each figure was computed.\n\n"
    f"`from` (inclusive) and `to` (exclusive) default to the {DEFAULT_RANGE.days} days up to now (or "
    f"{DEFAULT_RANGE.days} days from `from`); not before {EARLIEST:%Y-%m-%d}; at most {MAX_BUCKETS} buckets. Filters combine: `touchpoint`, "
    "`trigger`, `questionnaire` (keys)."
)


def _figures(by: Dimension, path: str, name: str, summary: str, description: str) -> HTTPRouteHandler:
    """The route of the figures per `by`: the three differ in their grouping and their words only."""

    async def handler(
        request: Req,
        conn: Conn,
        start: FromTime = None,
        end: ToTime = None,
        bucket: BucketQuery = "day",
        tz: TimeZoneQuery = "UTC",
        touchpoint: KeyQuery = None,
        trigger: KeyQuery = None,
        questionnaire: KeyQuery = None,
    ) -> Stats:
        query = stats_query(
            by,
            start=parse_time(start, "from"),
            end=parse_time(end, "to"),
            bucket=bucket,
            tz=tz,
            now=datetime.now(UTC),
            touchpoint=touchpoint,
            trigger=trigger,
            questionnaire=questionnaire,
        )
        return await touchpoints.stats(conn, request.auth.brand_id, query)

    handler.__name__ = handler.__qualname__ = name  # the OpenAPI operation's id is made of it
    return get(
        path,
        tags=["stats"],
        opt=requires("manage", "export"),
        summary=summary,
        description=description,
        responses=problems(401, 403, 422, 503),
        operation_class=ProblemOperation,
    )(handler)


touchpoint_stats = _figures(
    "touchpoint", "/stats/touchpoints", "touchpoint_stats", "Figures per touchpoint", _FIGURES
)
trigger_stats = _figures(
    "trigger",
    "/stats/triggers",
    "trigger_stats",
    "Figures per trigger",
    f"{_FIGURES}\n\nEvents no trigger decided (no active trigger, unknown touchpoint) count in `overall` only.",
)
questionnaire_stats = _figures(
    "questionnaire",
    "/stats/questionnaires",
    "questionnaire_stats",
    "Figures per questionnaire version",
    f"{_FIGURES}\n\nGroups are questionnaire versions (`key`, `version`): the invitations of each and what came "
    "of them; events that scheduled no invitation count in `overall` only.",
)


ConsiderationQuery = Annotated[
    str,
    QueryParameter(
        pattern=SLUG_PATTERN,
        description="The id of the consideration question, asked on the same scale in the pre- and post-survey.",
    ),
]


@get(
    "/stats/studies/{key:str}",
    tags=["stats", "studies"],
    opt=requires("manage", "export"),
    summary="A tracking study's statistics",
    description="Each brand's Share of Experience (its % of all reported encounters, competitors included) and "
    "Share of Positive Experience (its % of the encounters rated positive, 4–5 of 5); every brand × touchpoint with "
    "its frequency and mean positivity and persuasiveness; the pre→post change in consideration of the own brand "
    "per participant (the `consideration` question of the pre- and post-survey) and its mean with a paired t "
    "interval; touchpoint impact: the mean change among participants who reported an own-brand encounter at the "
    "touchpoint minus that among those who did not (Welch interval); and each participant's compliance, as the "
    "participants list shows it.",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def study_stats(
    request: Req, conn: Conn, key: StudyKey, consideration: ConsiderationQuery = studies.CONSIDERATION
) -> StudyStats:
    found = await studies.study_stats(
        conn, request.auth.brand_id, key, now=datetime.now(UTC), consideration=consideration
    )
    if found is None:
        raise NotFoundException(f"no study {key!r}")
    return found


ROUTES = [touchpoint_stats, trigger_stats, questionnaire_stats, study_stats]
