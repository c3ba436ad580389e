"""Retention: raw content older than the brand's period (``brands.retention``) is anonymised, hourly.

What is blanked is `research.personal.RAW`: event attributes, the texts lxt sent and their recipients, what
customers texted and from where, every answer's raw input and free-text values, refused submissions, conversations'
phones, study comments. Rows stay, with their links, times and coded values: response rates, scores and latencies
are computed as before. Customers' own rows (phone, push tokens, attributes) are not aged out: they are the brand's
current contact data, which it updates or erases (`research.erasure`).

"Older than the period" is per table, by when the content came to be and was stored (`STEPS`): an event by both
when it occurred and when lxt received it (one reported late is kept the period from its arrival), a message by
when it was sent once its invitation is over (a reply, a STOP above all, finds its brand and customer by it), an inbound message when received, an answer when given, a conversation when it closed (its phone
is needed until then), a study comment when written.

A run works in batches (`anonymise_batch`, at most `BATCH` rows, one statement each, so a transaction stays small)
that lock their rows with ``SKIP LOCKED``: two runs at once share the work instead of waiting for each other or
doing it twice, and neither waits for a customer's erasure. Each run starts where the brand's last complete run
stopped (``brands.retention_applied_until``, less `RESCAN`: a row another transaction held then is tried again),
so an hourly run reads an hour of rows, not the brand's history; its access path is the table's time index or
its UUIDv7 key (the time the row was stored: migrations/0005). Once a day a run reads the whole history again, a
net for what the windows cannot see (`due`). A run that anonymised something is audited (``retention_applied``)
with the rows per table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple
from uuid import UUID

import asyncpg
import msgspec

from plumbing.errors import FieldError
from research import audit
from research.personal import RAW, with_ctes
from triggers.durations import check_duration, iso_duration
from triggers.model import EXPIRES_MAX

RETENTION_MIN: Final = timedelta(days=1)
RETENTION_MAX: Final = timedelta(days=100 * 365)
BATCH: Final = 5000
"""Rows one statement anonymises at most."""
RESCAN: Final = timedelta(days=1)
"""How far back of the last complete run's cutoff a run looks again, for rows that were locked then."""
CLOCK_MARGIN: Final = timedelta(hours=1)
"""How far a row's id (made by the application's clock or the database's) may be from its time column."""
WHOLE_HISTORY_HOUR: Final = 3
"""The hour (UTC) whose run reads each brand's whole history, not only what was stored since the last run."""
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def check_retention(retention: timedelta | None) -> list[FieldError]:
    """Errors for a brand's retention period (``PATCH /v1/brand``): at least a day, whole seconds."""
    if retention is None:
        return []
    return check_duration(retention, "/retention", minimum=RETENTION_MIN, maximum=RETENTION_MAX)


INVITATION_OVER: Final = """EXISTS (
    SELECT FROM invitations i
    WHERE i.brand_id = $1 AND i.invitation_id = messages.invitation_id
      AND i.status NOT IN ('scheduled', 'sending') AND i.expires_at < $4)"""
"""A message's invitation can no longer be answered (as of the run's time, $4)."""


class Step(NamedTuple):
    """One table's raw content and when a row of it is old."""

    table: str
    key: tuple[str, ...]
    """The row's key within the brand (a batch updates the rows it locked by it)."""
    age: str
    """The time a row is as old as: it is anonymised once this is before the cutoff."""
    older: str = ""
    """More that must be true of an old row (the cutoff is $2, the run's time $4)."""
    stored: str | None = None
    """The UUIDv7 key column whose time bounds the scan (the time the row was stored), when the table has no index
    on `age`."""
    lifetime: timedelta = timedelta(0)
    """How long after it was stored a row's `age` may still be."""
    order: tuple[str, ...] = ()
    """The order a run reads the rows in, each batch after the last row of the one before (the key unless said):
    a batch reads the rows it blanks, not again those the batches before it did."""

    @property
    def resume(self) -> tuple[str, ...]:
        return self.order or self.key


STEPS: Final = (
    Step("events", ("event_id",), "received_at", older="occurred_at < $2", stored="event_id"),
    # Only once its invitation is over: until then a reply to the message (a STOP above all) finds the brand on a
    # shared sender, and the customer, by the message's recipient (responses.inbound). Such a message is usually
    # behind the hourly windows by the time its invitation ends: the nightly run over the whole history takes it.
    Step("messages", ("message_id",), "created_at", older=INVITATION_OVER, stored="message_id"),
    Step("inbound_messages", ("inbound_id",), "received_at", stored="inbound_id"),
    Step("answers", ("answer_id",), "answered_at", order=("answered_at", "answer_id")),  # answers_by_time
    Step("refused_answers", ("refusal_id",), "received_at"),
    # Closed at most as long after it opened as an invitation lives (and the sweep that closes it runs each minute).
    Step(
        "conversations",
        ("conversation_id",),
        "closed_at",
        stored="conversation_id",
        lifetime=EXPIRES_MAX + timedelta(days=1),
    ),
    Step("self_reports", ("report_id",), "coalesce(comment_updated_at, reported_at)"),
    Step("self_report_comments", ("report_id", "seq"), "written_at"),
)


def _statement(step: Step, *, windowed: bool, resumed: bool) -> str:
    """One batch of `step`: $1 brand, $2 cutoff, $3 the batch size, $4 the run's time; `windowed`, only rows from
    where the last complete run stopped ($5) and, with `Step.stored`, the range of ids ($6, $7) of the rows stored
    meanwhile; `resumed`, only rows after the last batch's last (`Step.resume`, the parameters after those).
    Returns the blanked rows' `Step.resume` columns."""
    raw = RAW[step.table]
    window = f"AND {step.age} >= $5" if windowed else ""
    if windowed and step.stored:
        window += f" AND {step.stored} >= $6 AND {step.stored} < $7"
    older = f"AND {step.older}" if step.older else ""
    first = 5 + windowed + 2 * (windowed and step.stored is not None)
    after = ", ".join(f"${first + n}" for n in range(len(step.resume)))
    resume = ", ".join(step.resume)
    later = f"AND ({resume}) > ({after})" if resumed else ""
    columns = ", ".join(dict.fromkeys(step.key + step.resume))
    batch = f"""batch AS (
        SELECT {columns} FROM {step.table}
        WHERE brand_id = $1 AND {step.age} < $2 AND $2 <= $4::timestamptz {older} {window} {later} AND {raw.present}
        ORDER BY {resume}
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    )"""
    return f"""
        {with_ctes(raw, batch)}
        UPDATE {step.table} t SET {raw.blank}
        FROM batch WHERE t.brand_id = $1 AND ({", ".join(f"t.{k}" for k in step.key)}) = ({
        ", ".join(f"batch.{k}" for k in step.key)
    })
        RETURNING {", ".join(f"t.{c}" for c in step.resume)}
    """


_STATEMENTS: Final = {
    (step.table, windowed, resumed): _statement(step, windowed=windowed, resumed=resumed)
    for step in STEPS
    for windowed in (False, True)
    for resumed in (False, True)
}


class Due(msgspec.Struct, frozen=True, kw_only=True):
    """A brand whose retention is due: rows whose age is before `cutoff`, and since `since` unless None (the
    brand's whole history)."""

    brand_id: UUID
    retention: timedelta
    now: datetime
    cutoff: datetime
    since: datetime | None


async def due(conn: asyncpg.Connection, now: datetime) -> list[Due]:
    """Every brand with a retention period (all brands: the system's own job). Once a day (the run in
    `WHOLE_HISTORY_HOUR`), and until a brand's first run completes, a run reads the brand's whole history: a row
    the windows cannot see (stored before migrations/0005 made ids time-ordered, or held by another transaction
    for longer than `RESCAN`) waits a day at most."""
    rows = await conn.fetch(
        "SELECT brand_id, retention, retention_applied_until FROM brands WHERE retention IS NOT NULL "
        "ORDER BY brand_id"
    )
    return [
        Due(
            brand_id=r["brand_id"],
            retention=r["retention"],
            now=now,
            cutoff=now - r["retention"],
            since=None
            if r["retention_applied_until"] is None or now.hour == WHOLE_HISTORY_HOUR
            else r["retention_applied_until"] - RESCAN,
        )
        for r in rows
    ]


class Batch(NamedTuple):
    """What one batch did: how many rows it blanked, and where the next batch of the run starts (None: nothing
    was blanked, the next starts where this one did)."""

    rows: int
    last: tuple[Any, ...] | None


async def anonymise_batch(
    conn: asyncpg.Connection, brand: Due, step: Step, limit: int = BATCH, after: tuple[Any, ...] | None = None
) -> Batch:
    """Blank the raw content of up to `limit` of the brand's rows of `step` that are old and still hold some
    (skipping rows another transaction holds), in `Step.resume` order and after the row `after` (the last
    `Batch.last` of the run). One statement: its own transaction unless the caller holds one."""
    args: list[Any] = [brand.brand_id, brand.cutoff, limit, brand.now]
    if brand.since is not None:
        args.append(brand.since)
        if step.stored:
            args += [
                _first_id(brand.since - step.lifetime - CLOCK_MARGIN),
                _first_id(brand.cutoff + CLOCK_MARGIN),
            ]
    if after is not None:
        args += after
    done = await conn.fetch(_STATEMENTS[step.table, brand.since is not None, after is not None], *args)
    return Batch(len(done), max((tuple(r) for r in done), default=None))


async def finish(conn: asyncpg.Connection, brand: Due, rows: dict[str, int], *, complete: bool) -> int | None:
    """After a run over `brand`: a complete one is where the next starts; one that anonymised anything is audited
    with its `rows` per table (the audit id, else None). In the caller's transaction."""
    if complete:
        await conn.execute(
            "UPDATE brands SET retention_applied_until = greatest(retention_applied_until, $2) WHERE brand_id = $1",
            brand.brand_id,
            brand.cutoff,
        )
    if not any(rows.values()):
        return None
    entry = await audit.record(
        conn,
        brand.brand_id,
        actor="retention",
        action="retention_applied",
        details={
            "retention": iso_duration(brand.retention),
            "cutoff": brand.cutoff.isoformat(),
            "whole_history": brand.since is None,
            "complete": complete,
            "rows": rows,
        },
    )
    return entry.audit_id


def _first_id(at: datetime) -> UUID:
    """The smallest UUIDv7 of the millisecond `at` (ids of rows stored before it sort below it)."""
    millis = max(0, int((at - EPOCH).total_seconds() * 1000))
    return UUID(int=millis << 80)
