"""Setting up a tracking study: its code book and settings, and the touchpoints and triggers it owns of the brand's
(`study_model.internal_keys`), through which its pre- and post-survey go out like any invitation.

Runs in the caller's transaction and never commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg

from plumbing.errors import Conflict, FieldError
from responses.studies import queries as study_queries
from responses.studies.model import (
    Study,
    StudyIn,
    StudyInvalid,
    changed_after_start,
    internal_keys,
    validate_study,
)
from triggers import catalog
from triggers.model import FrequencyRules, TriggerIn, validate_trigger

SURVEY_MAX_LAG: Final = timedelta(days=2)
"""A pre- or post-survey still goes out this long after its step (the send window may hold it overnight)."""
PRE_EXPIRES: Final = timedelta(days=3)
POST_EXPIRES: Final = timedelta(days=7)


async def put_study(
    conn: asyncpg.Connection, brand_id: UUID, key: str, spec: StudyIn, now: datetime
) -> tuple[Study, bool]:
    """Create or update the study `key` with its touchpoints and triggers; True when created.

    Raises `StudyInvalid` naming each bad field (letters, the own brand, questionnaires that are not published),
    and `Conflict` when a started study would change more than its name and texts, or a trigger of the study's
    name belongs to something else.
    """
    spec = validate_study(spec)
    keys = internal_keys(key)
    stored = await study_queries.get_study(conn, brand_id, key, lock=True)
    if stored is not None and stored.started_at is not None:
        changed = changed_after_start(stored.spec, spec)
        if changed:
            raise Conflict(changed)
    await _check_questionnaires(conn, brand_id, spec)
    reserved = {keys.enrolled, keys.diary_ended}
    clashes = [
        FieldError(f"/touchpoints/{letter}/touchpoint_key", "is one of the study's own touchpoints")
        for letter, touchpoint in spec.touchpoints.items()
        if touchpoint.touchpoint_key in reserved
    ]
    if clashes:
        raise StudyInvalid(clashes)
    owned = [stored.pre_trigger_id, stored.post_trigger_id] if stored else []
    taken = await study_queries.triggers_owned_elsewhere(
        conn, brand_id, [keys.pre_trigger, keys.post_trigger], owned
    )
    if taken:
        message = f"the brand has a trigger {taken[0]!r} of its own, which a study of this key would take over"
        raise Conflict([FieldError("path:key", message)])
    await study_queries.ensure_touchpoints(
        conn,
        brand_id,
        [(t.touchpoint_key, t.name, t.category) for t in spec.touchpoints.values()]
        + [
            (keys.enrolled, _label(spec.name, "enrolled"), "owned"),
            (keys.diary_ended, _label(spec.name, "diary ended"), "owned"),
        ],
    )
    pre, _ = await catalog.put_trigger(
        conn,
        brand_id,
        _trigger(spec, keys.pre_trigger, "pre-survey", keys.enrolled, spec.pre_questionnaire, PRE_EXPIRES),
        now,
    )
    post, _ = await catalog.put_trigger(
        conn,
        brand_id,
        _trigger(spec, keys.post_trigger, "post-survey", keys.diary_ended, spec.post_questionnaire, POST_EXPIRES),
        now,
    )
    created = await study_queries.put_study(conn, brand_id, key, spec, pre.id, post.id)
    study = await study_queries.get_study(conn, brand_id, key)
    assert study is not None
    return study.public(), created


async def _check_questionnaires(conn: asyncpg.Connection, brand_id: UUID, spec: StudyIn) -> None:
    wanted = [spec.pre_questionnaire, spec.post_questionnaire]
    unarchived = await study_queries.questionnaires_unarchived(conn, brand_id, wanted)
    errors = []
    for name in ("pre_questionnaire", "post_questionnaire"):
        key = getattr(spec, name)
        if key not in unarchived:
            errors.append(FieldError(f"/{name}", f"unknown questionnaire {key!r}; publish it first"))
        elif not unarchived[key]:
            errors.append(FieldError(f"/{name}", f"questionnaire {key!r} is archived"))
    if errors:
        raise StudyInvalid(errors)


def _label(name: str, step: str) -> str:
    return f"{name[: 198 - len(step)]}: {step}"


def _trigger(
    spec: StudyIn, key: str, step: str, touchpoint: str, questionnaire: str, expires_after: timedelta
) -> TriggerIn:
    """A study's survey trigger: every participant, at once within the study's hours, and never held back by
    contact-frequency rules — the participant signed up for these surveys."""
    trigger = TriggerIn(
        key=key,
        name=_label(spec.name, step),
        touchpoint=touchpoint,
        questionnaire=questionnaire,
        delay=timedelta(0),
        send_window=spec.send_window,
        frequency=FrequencyRules(
            brand_gap=timedelta(0), trigger_gap=timedelta(0), daily_cap=None, exempt_from_brand_rules=True
        ),
        max_lag=SURVEY_MAX_LAG,
        channels=list(spec.channels),
        expires_after=expires_after,
    )
    validate_trigger(trigger)
    return trigger


async def get_study(conn: asyncpg.Connection, brand_id: UUID, key: str) -> Study | None:
    found = await study_queries.get_study(conn, brand_id, key)
    return found.public() if found else None


async def list_studies(conn: asyncpg.Connection, brand_id: UUID) -> list[Study]:
    return [s.public() for s in await study_queries.list_studies(conn, brand_id)]
