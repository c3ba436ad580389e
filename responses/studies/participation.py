"""Tracking studies: enrolling and withdrawing participants, the end of their diaries, and the codes they text
(`handle_code`, called by the inbound SMS path). Setting a study up is `responses.studies.setup`.

A study rides on the brand's own machinery rather than beside it. Setting it up registers two touchpoints and two
triggers of the brand (`study_model.internal_keys`); enrolling a participant reports an event on the first, in
the enrolment's own transaction, through `triggers.schedule.ingest` — the path ``POST /v1/events`` takes — so the
pre-survey invitation is decided, scheduled and sent like any other, with the welcome and the code format as the
preamble of its first message; the worker reports the diary's end on the second (`report_ended_diaries`, once per
participant), which schedules the post-survey. A texted code is an event too (source ``self_report``), on the
code book's touchpoint: an encounter with the study's own brand may fire the brand's triggers like any event, one
with a competitor is stored and decided ``competitor_encounter``.

Every function runs in the caller's transaction and never commits; the `InvitationJob`s it returns are for the
caller to enqueue after commit (`notifications.queue.enqueue_invitations`), as ingestion's are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET

from customers.contact import check_customer
from customers.model import CustomerIn, CustomerRef
from customers.queries import put_customer
from customers.zones import load_zone
from plumbing.errors import Conflict, FieldError
from plumbing.ids import new_id
from responses.studies import queries as study_queries
from responses.studies import reports as report_queries
from responses.studies import texts as study_texts
from responses.studies.codes import NotACode, parse_code
from responses.studies.diary import diary_link
from responses.studies.model import (
    Participant,
    ParticipantIn,
    StudyInvalid,
    compliance,
    internal_keys,
    status,
)
from responses.studies.queries import ParticipantRow, StoredStudy
from responses.studies.reports import SelfReport
from triggers import schedule
from triggers.events import EventIn, check_events
from triggers.schedule import EventSource, InvitationJob, Pending

REPLY_AFTER_END: Final = timedelta(days=7)
"""For this long after a diary ended, a text from its participant is answered with "the diary has ended"; after
that, the participant's texts are no longer the study's."""


class StudyReply(msgspec.Struct, frozen=True, kw_only=True):
    """What to answer a participant's text, and the send jobs to enqueue once the caller's transaction commits
    (invitations the reported encounter scheduled through the brand's triggers)."""

    text: str
    jobs: list[InvitationJob] = []


# -- participants ------------------------------------------------------------------------------------------------


class Enrolled(msgspec.Struct, frozen=True, kw_only=True):
    participant: Participant
    created: bool
    """False when the customer was enrolled before: nothing changed."""
    jobs: list[InvitationJob]


async def enrol(
    conn: asyncpg.Connection, brand_id: UUID, key: str, data: ParticipantIn, now: datetime
) -> Enrolled | None:
    """Enrol a customer (created or updated with the contact data given, consent recorded with source ``study``)
    and report the enrolment, which schedules the pre-survey; None if the brand has no study `key`.

    Enrolling again answers the existing enrolment and changes nothing. `StudyInvalid` for a missing consent or
    phone or bad contact data; `Conflict` for a customer who opted out, withdrew from this study, or is keeping
    another study's diary.
    """
    if not data.consent:
        raise StudyInvalid(
            [FieldError("/consent", "must be true: participants take part only with their consent")]
        )
    update, errors = check_customer(
        CustomerIn(
            phone=data.phone if data.phone is not None else UNSET,
            locale=data.locale if data.locale is not None else UNSET,
            time_zone=data.time_zone if data.time_zone is not None else UNSET,
            consents={"sms": True},  # both study channels travel by SMS
        )
    )
    if errors:
        raise StudyInvalid(errors)
    await study_queries.guard_triggers_shared(conn, brand_id)
    study = await study_queries.get_study(conn, brand_id, key, lock=True)
    if study is None:
        return None
    existing = await study_queries.enrolment(conn, brand_id, study.study_id, data.external_id)
    if existing is not None:
        if existing.withdrawn_at is not None:
            message = f"withdrew from this study on {existing.withdrawn_at:%Y-%m-%d}; a withdrawal is final"
            raise Conflict([FieldError("/external_id", message)])
        return Enrolled(
            participant=await _participant(conn, brand_id, study, data.external_id, now), created=False, jobs=[]
        )
    # The study's consent is the brand's word: it does not undo the customer's own STOP (`Customer.unsubscribed`).
    customer, _ = await put_customer(conn, brand_id, data.external_id, update, now, source="study", opt_in=False)
    if customer.opted_out_at is not None:
        message = "opted out of all surveys; they must opt back in (PUT /v1/customers) before enrolling"
        raise Conflict([FieldError("/external_id", message)])
    if "sms" in customer.unsubscribed:
        message = "unsubscribed from SMS themselves (STOP); they must text START before enrolling"
        raise Conflict([FieldError("/external_id", message)])
    if customer.phone is None:
        raise StudyInvalid([FieldError("/phone", "is required: participants text their codes from their phone")])
    other = await study_queries.open_study_of(conn, brand_id, customer.customer_id, study.study_id, now)
    if other is not None:
        raise Conflict([FieldError("/external_id", f"is keeping the diary of study {other!r} until it ends")])
    await study_queries.start_study(conn, brand_id, study.study_id, now)
    enrolment = await study_queries.insert_participant(
        conn, brand_id, study.study_id, customer.customer_id, now, timedelta(days=study.spec.diary_days)
    )
    jobs = await _report_steps(
        conn,
        [
            _Step(
                brand_id=brand_id,
                idempotency_key=f"study:{study.study_id}:enrolled:{enrolment.participant_id}",
                touchpoint=internal_keys(key).enrolled,
                external_id=data.external_id,
                occurred_at=now,
                study=key,
                preamble=study_texts.welcome(study.spec, customer.locale),
            )
        ],
        now,
    )
    return Enrolled(
        participant=await _participant(conn, brand_id, study, data.external_id, now), created=True, jobs=jobs
    )


async def withdraw(
    conn: asyncpg.Connection, brand_id: UUID, key: str, external_id: str, now: datetime
) -> Participant | None:
    """End a participant's diary now and cancel their study surveys not sent yet; None if not enrolled. Their
    reports stay; withdrawing again changes nothing."""
    study = await study_queries.get_study(conn, brand_id, key)
    if study is None:
        return None
    withdrawn = await study_queries.withdraw(conn, brand_id, study.study_id, external_id, now)
    if withdrawn is None:
        return None
    await study_queries.cancel_study_invitations(
        conn, brand_id, withdrawn.customer_id, [study.pre_trigger_id, study.post_trigger_id], now
    )
    return await _participant(conn, brand_id, study, external_id, now)


async def participants(
    conn: asyncpg.Connection,
    brand_id: UUID,
    key: str,
    after: tuple[datetime, UUID] | None,
    limit: int,
    now: datetime,
) -> tuple[list[Participant], tuple[datetime, UUID] | None] | None:
    """A page of the study's participants with their compliance, and the cursor of the next page (None on the
    last); None if the brand has no study `key`."""
    study = await study_queries.get_study(conn, brand_id, key)
    if study is None:
        return None
    rows = await study_queries.list_participants(conn, brand_id, study, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    last = (rows[-1].enrolled_at, rows[-1].participant_id) if more else None
    return [_view(row, now) for row in rows], last


async def _participant(
    conn: asyncpg.Connection, brand_id: UUID, study: StoredStudy, external_id: str, now: datetime
) -> Participant:
    (row,) = await study_queries.list_participants(conn, brand_id, study, None, 1, external_id)
    return _view(row, now)


def _view(row: ParticipantRow, now: datetime) -> Participant:
    return Participant(
        external_id=row.external_id,
        status=status(row.diary_ends_at, row.withdrawn_at, now),
        consented_at=row.consented_at,
        enrolled_at=row.enrolled_at,
        diary_starts_at=row.diary_starts_at,
        diary_ends_at=row.diary_ends_at,
        withdrawn_at=row.withdrawn_at,
        compliance=compliance(
            reports=row.reports,
            prompts_sent=row.prompts_sent,
            prompts_answered=row.prompts_answered,
            diary_starts_at=row.diary_starts_at,
            diary_ends_at=row.diary_ends_at,
            withdrawn_at=row.withdrawn_at,
            now=now,
        ),
    )


async def report_ended_diaries(
    conn: asyncpg.Connection, now: datetime, limit: int
) -> tuple[int, list[InvitationJob]]:
    """Report the end of up to `limit` diaries that ended and were not reported yet (scheduling the
    post-surveys); how many, and the jobs to enqueue after commit.

    Exactly once per participant: the rows are locked (others running this skip them) and marked reported in the
    same transaction, and the event's idempotency key names the participant, so even a repeat stores nothing new.
    """
    endings = await study_queries.lock_ended_diaries(conn, now, limit)
    if not endings:
        return 0, []
    steps = [
        _Step(
            brand_id=e.brand_id,
            idempotency_key=f"study:{e.study_id}:ended:{e.participant_id}",
            touchpoint=internal_keys(e.key).diary_ended,
            external_id=e.external_id,
            occurred_at=e.diary_ends_at,
            study=e.key,
            preamble=study_texts.post_intro(e.spec, e.locale),
        )
        for e in endings
    ]
    jobs = await _report_steps(conn, steps, now)
    await study_queries.mark_ended_reported(conn, endings, now)
    return len(endings), jobs


class _Step(msgspec.Struct, frozen=True, kw_only=True):
    """A study's own step (an enrolment, a diary's end), reported as an event of source ``study``."""

    brand_id: UUID
    idempotency_key: str
    touchpoint: str
    external_id: str
    occurred_at: datetime
    study: str
    preamble: str


async def _report_steps(conn: asyncpg.Connection, steps: list[_Step], now: datetime) -> list[InvitationJob]:
    """Ingest the steps' events (the invitations they schedule open with the step's preamble); the jobs."""
    events = [
        EventIn(
            idempotency_key=s.idempotency_key,
            touchpoint=s.touchpoint,
            customer=CustomerRef(external_id=s.external_id),
            occurred_at=s.occurred_at,
            attributes={"study": s.study},
        )
        for s in steps
    ]
    pending = [
        Pending(s.brand_id, valid, source="study")
        for s, valid in zip(steps, check_events(events, now, batch=True), strict=True)
    ]
    results, jobs = await schedule.ingest(conn, pending, now)
    for step, result in zip(steps, results, strict=True):
        if result.status == "created" and result.invitation_id is not None:
            await study_queries.set_preamble(conn, step.brand_id, result.invitation_id, step.preamble)
    return jobs


# -- texted codes ------------------------------------------------------------------------------------------------


async def handle_code(
    conn: asyncpg.Connection,
    *,
    brand_id: UUID,
    customer_id: UUID,
    inbound_id: UUID,
    text: str,
    now: datetime,
    base_url: str,
    channel: str = "sms",
    codes_only: bool = False,
) -> StudyReply | None:
    """What a study makes of an inbound text from `customer_id` that came on `channel`, inside the caller's
    transaction.

    None when the text is not the study's: the customer is not an enrolled participant (or withdrew) of a study
    of the brand whose diary is open or ended within `REPLY_AFTER_END`, or opted out — of all surveys, or of
    `channel` (their STOP). An opted-out participant gets nothing, and nothing they text is stored: a code after
    a STOP is neither confirmed nor recorded (they opted out of texting with the brand; the study's compliance
    shows the gap), until their START. The caller then goes on as for any text. Call it after STOP/HELP and after
    a survey conversation of the customer has had its turn: a code is what is left.

    Otherwise a `StudyReply` to send back, in the participant's language:
    - a valid code while the diary is open: stored as a touchpoint event (source ``self_report``, with the brand
      it concerns; an own-brand encounter goes through the brand's triggers like any event, a competitor's is
      ``competitor_encounter``) and a ``self_reports`` row; the reply confirms it with a link to the diary page.
      `StudyReply.jobs` holds the send jobs of invitations the event scheduled: enqueue them after commit.
    - any other text while the diary is open: a reply saying what is wrong and how to text a code.
    - any text before the diary opens or after it ended: a reply saying so; nothing is stored.
    The same `inbound_id` again (a provider's retried webhook) stores nothing new and confirms the same report.

    With `codes_only`, only a valid code while the diary is open is answered (None otherwise): the step that
    runs before a survey conversation, so that a participant's code is recorded as one even while a survey
    question is waiting for its answer.
    """
    found = await report_queries.participation(conn, brand_id, customer_id, now, REPLY_AFTER_END, channel)
    if found is None or found.opted_out:
        return None
    spec, locale = found.spec, found.locale
    diary_open = found.diary_starts_at <= now < found.diary_ends_at
    if codes_only and (not diary_open or isinstance(parse_code(text, spec.brands, spec.touchpoints), NotACode)):
        return None
    if now < found.diary_starts_at:
        return StudyReply(text=study_texts.not_open(spec, _local(found.diary_starts_at, found.time_zone), locale))
    if now >= found.diary_ends_at:
        return StudyReply(text=study_texts.ended(spec, locale))
    code = parse_code(text, spec.brands, spec.touchpoints)
    if isinstance(code, NotACode):
        return StudyReply(text=study_texts.invalid_code(spec, text, code, locale))
    report = await report_queries.report_of_inbound(conn, brand_id, inbound_id)
    jobs: list[InvitationJob] = []
    if report is None:
        brand, touchpoint = spec.brands[code.brand], spec.touchpoints[code.touchpoint]
        report = SelfReport(
            report_id=UUID(new_id()),
            brand_letter=code.brand,
            brand_name=brand.name,
            own_brand=brand.own,
            touchpoint_letter=code.touchpoint,
            touchpoint_key=touchpoint.touchpoint_key,
            touchpoint_name=touchpoint.name,
            positivity=code.positivity,
            persuasiveness=code.persuasiveness,
            reported_at=now,
        )
        event_id, jobs = await _report_encounter(conn, brand_id, found, inbound_id, report, now)
        await report_queries.insert_report(conn, brand_id, found, customer_id, inbound_id, event_id, report)
    link = await diary_link(conn, brand_id, found.participant_id, base_url, now)
    text = study_texts.confirmed(
        code=f"{report.brand_letter}{report.touchpoint_letter}{report.positivity}{report.persuasiveness}",
        brand=report.brand_name,
        touchpoint=report.touchpoint_name,
        positivity=report.positivity,
        persuasiveness=report.persuasiveness,
        link=link,
        locale=locale,
    )
    return StudyReply(text=text, jobs=jobs)


async def _report_encounter(
    conn: asyncpg.Connection,
    brand_id: UUID,
    found: report_queries.Participation,
    inbound_id: UUID,
    report: SelfReport,
    now: datetime,
) -> tuple[str, list[InvitationJob]]:
    """Ingest a texted encounter as the brand's touchpoint event; its event id and the jobs it scheduled."""
    event = EventIn(
        idempotency_key=f"study:{found.study_id}:report:{inbound_id}",
        touchpoint=report.touchpoint_key,
        customer=CustomerRef(external_id=found.external_id),
        occurred_at=now,
        # Usable in the brand's trigger conditions, e.g. survey only encounters rated negative.
        attributes={
            "study": found.key,
            "brand_code": report.brand_letter,
            "brand": report.brand_name,
            "own_brand": report.own_brand,
            "touchpoint_code": report.touchpoint_letter,
            "positivity": report.positivity,
            "persuasiveness": report.persuasiveness,
        },
    )
    (valid,) = check_events([event], now, batch=False)
    source: EventSource = "self_report"
    pending = Pending(
        brand_id, valid, source=source, concerns_brand=report.brand_name, competitor=not report.own_brand
    )
    (result,), jobs = await schedule.ingest(conn, [pending], now)
    return result.event_id, jobs


def _local(at: datetime, time_zone: str | None) -> datetime:
    zone = load_zone(time_zone)
    return at.astimezone(zone) if zone else at
