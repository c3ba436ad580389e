"""A tracking study's statistics: shares of experience, positivity by touchpoint, the change in consideration
and its association with the touchpoints participants reported, and compliance.

Encounters are the study's self-reports (texted codes), every brand's. An encounter is *positive* when its
positivity (1–5) is on the two highest points, 4–5, as `questionnaires.scores.top_two_box` counts a 1–5 scale.

Consideration is the answer to the question with id `CONSIDERATION` (or the one the query names) in the pre- and
in the post-survey: studies have no field that marks it, so the question's id is the convention, and it must be
a scale question with the same scale in every version of both questionnaires. A participant's change is their
post-survey answer minus their pre-survey answer (the first answer of each, if a survey was sent twice).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg

from research.stats import methods
from research.stats.model import (
    BrandShare,
    Consideration,
    Methods,
    ParticipantFigures,
    StudyStats,
    TouchpointImpact,
    TouchpointPositivity,
)
from research.stats.scales import brand_scale_questions, top_two_box_from
from research.stats.touchpoints import snapshot
from responses.studies import participation
from responses.studies.model import Participant
from responses.studies.queries import StoredStudy, get_study

CONSIDERATION: Final = "consideration"
"""The question id of the consideration question in the pre- and post-survey, unless the query names another."""
POSITIVITY_SCALE: Final = (1, 5)
POSITIVE_FROM: Final = top_two_box_from(*POSITIVITY_SCALE)
PAGE: Final = 200

# Every brand and every brand × touchpoint of the study's reports; shares over the rows of the same level.
_ENCOUNTERS = """
SELECT brand_letter, touchpoint_letter, GROUPING(touchpoint_letter) <> 0 AS by_brand,
       count(*) AS encounters, count(DISTINCT participant_id) AS participants,
       count(*) FILTER (WHERE positivity >= $3) AS positive,
       100.0 * count(*) / nullif(sum(count(*)) OVER level, 0) AS share_of_experience,
       100.0 * count(*) FILTER (WHERE positivity >= $3)
           / nullif(sum(count(*) FILTER (WHERE positivity >= $3)) OVER level, 0) AS share_of_positive_experience,
       avg(positivity)::float8 AS positivity, stddev_samp(positivity)::float8 AS positivity_sd,
       avg(persuasiveness)::float8 AS persuasiveness, stddev_samp(persuasiveness)::float8 AS persuasiveness_sd
FROM self_reports
WHERE brand_id = $1 AND study_id = $2
GROUP BY GROUPING SETS ((brand_letter, touchpoint_letter), (brand_letter))
WINDOW level AS (PARTITION BY GROUPING(touchpoint_letter))
ORDER BY brand_letter, touchpoint_letter NULLS FIRST
"""

# Per participant: the first pre- and post-survey answer to the consideration question on its scale, and the
# encounters reported, with the touchpoint letters of the own-brand ones.
#   $1 brand, $2 study, $3 pre trigger, $4 post trigger, $5 question id, $6 scale low, $7 scale high
_CHANGES = """
WITH participants AS (
    SELECT participant_id, customer_id, enrolled_at FROM study_participants WHERE brand_id = $1 AND study_id = $2
),
answered AS (
    SELECT p.participant_id, i.trigger_id, a.answered_at,
           CASE WHEN jsonb_typeof(a.value) = 'number' THEN a.value::numeric END AS value
    FROM participants p
    JOIN invitations i ON i.brand_id = $1 AND i.customer_id = p.customer_id AND i.trigger_id IN ($3, $4)
    JOIN answers a ON a.brand_id = $1 AND a.invitation_id = i.invitation_id AND a.question_id = $5
                  AND a.replaced_at IS NULL
),
consideration AS (
    SELECT participant_id,
           (array_agg(value ORDER BY answered_at) FILTER (WHERE trigger_id = $3))[1]::float8 AS pre,
           (array_agg(value ORDER BY answered_at) FILTER (WHERE trigger_id = $4))[1]::float8 AS post
    FROM answered
    WHERE value BETWEEN $6::int AND $7::int
    GROUP BY participant_id
),
reported AS (
    SELECT participant_id, count(*) AS encounters, count(*) FILTER (WHERE own_brand) AS own_brand_encounters,
           array_agg(DISTINCT touchpoint_letter) FILTER (WHERE own_brand) AS own_touchpoints
    FROM self_reports
    WHERE brand_id = $1 AND study_id = $2
    GROUP BY participant_id
),
changes AS (
    SELECT p.participant_id, p.enrolled_at, c.pre, c.post, c.post - c.pre AS change,
           coalesce(r.encounters, 0) AS encounters, coalesce(r.own_brand_encounters, 0) AS own_brand_encounters,
           coalesce(r.own_touchpoints, '{}') AS own_touchpoints
    FROM participants p
    LEFT JOIN consideration c ON c.participant_id = p.participant_id
    LEFT JOIN reported r ON r.participant_id = p.participant_id
)
"""

_PARTICIPANTS = (
    _CHANGES
    + """
SELECT cu.external_id, ch.encounters, ch.own_brand_encounters, ch.pre, ch.post, ch.change
FROM changes ch
JOIN participants p ON p.participant_id = ch.participant_id
JOIN customers cu ON cu.brand_id = $1 AND cu.customer_id = p.customer_id
ORDER BY ch.enrolled_at, ch.participant_id
"""
)

# The mean change, overall and split by whether the participant reported an own-brand encounter at each touchpoint
# letter ($8). `letter` NULL is the overall row.
_IMPACT = (
    _CHANGES
    + """
SELECT t.letter,
       count(*) FILTER (WHERE t.letter = ANY(own_touchpoints)) AS n1,
       avg(change) FILTER (WHERE t.letter = ANY(own_touchpoints)) AS mean1,
       stddev_samp(change) FILTER (WHERE t.letter = ANY(own_touchpoints)) AS sd1,
       count(*) FILTER (WHERE NOT t.letter = ANY(own_touchpoints)) AS n2,
       avg(change) FILTER (WHERE NOT t.letter = ANY(own_touchpoints)) AS mean2,
       stddev_samp(change) FILTER (WHERE NOT t.letter = ANY(own_touchpoints)) AS sd2
FROM changes CROSS JOIN unnest($8::text[]) AS t (letter)
WHERE change IS NOT NULL
GROUP BY t.letter
UNION ALL
SELECT NULL, count(*), avg(change), stddev_samp(change), 0, NULL, NULL FROM changes WHERE change IS NOT NULL
"""
)


async def study_stats(
    conn: asyncpg.Connection, brand_id: UUID, key: str, *, now: datetime, consideration: str = CONSIDERATION
) -> StudyStats | None:
    """The statistics of the brand's study `key`; None if there is no such study."""
    study = await get_study(conn, brand_id, key)
    if study is None:
        return None
    scale, note = await _consideration_scale(conn, brand_id, study, consideration)
    async with snapshot(conn):
        encounters = await conn.fetch(_ENCOUNTERS, brand_id, study.study_id, POSITIVE_FROM)
        args = (brand_id, study.study_id, study.pre_trigger_id, study.post_trigger_id, consideration)
        low, high = scale or (0, -1)  # no scale: no answer is on it
        rows = await conn.fetch(_PARTICIPANTS, *args, low, high)
        letters = list(study.spec.touchpoints)
        impact = {r["letter"]: r for r in await conn.fetch(_IMPACT, *args, low, high, letters)}
        compliance = await _compliance(conn, brand_id, key, now)
    overall = impact.pop(None)
    return StudyStats(
        study=key,
        participants=len(rows),
        encounters=sum(r["encounters"] for r in encounters if r["by_brand"]),
        brands=_brands(study, encounters),
        touchpoints=_touchpoints(study, encounters),
        consideration=Consideration(
            question=consideration,
            scale_min=scale[0] if scale else None,
            scale_max=scale[1] if scale else None,
            available=scale is not None,
            note=note,
            change=methods.mean(overall["n1"], overall["mean1"], overall["sd1"]),
        ),
        impact=[_impact(study, letter, impact.get(letter)) for letter in letters],
        participant_figures=[
            ParticipantFigures(
                external_id=r["external_id"],
                status=compliance[r["external_id"]].status,
                encounters=r["encounters"],
                own_brand_encounters=r["own_brand_encounters"],
                consideration_pre=r["pre"],
                consideration_post=r["post"],
                consideration_change=r["change"],
                compliance=compliance[r["external_id"]].compliance,
            )
            for r in rows
        ],
        methods=STUDY_METHODS,
    )


async def _consideration_scale(
    conn: asyncpg.Connection, brand_id: UUID, study: StoredStudy, question: str
) -> tuple[tuple[int, int] | None, str | None]:
    """The consideration question's scale, or None and why it cannot be used."""
    scales: set[tuple[int, int]] = set()
    for survey in (study.spec.pre_questionnaire, study.spec.post_questionnaire):
        found = {
            (q.low, q.high) for q in await brand_scale_questions(conn, brand_id, survey) if q.question == question
        }
        if not found:
            return None, f"{survey} has no scale question {question!r}"
        scales |= found
    if len(scales) > 1:
        return None, f"{question!r} is not asked on one scale in the pre- and post-survey: {sorted(scales)}"
    return scales.pop(), None


async def _compliance(conn: asyncpg.Connection, brand_id: UUID, key: str, now: datetime) -> dict[str, Participant]:
    """Every participant as the participants list shows them, compliance included, by external id."""
    found: dict[str, Participant] = {}
    after = None
    while True:
        page = await participation.participants(conn, brand_id, key, after, PAGE, now)
        assert page is not None  # the study was found in the same snapshot
        items, after = page
        found.update((p.external_id, p) for p in items)
        if after is None:
            return found


def _brands(study: StoredStudy, rows: list[asyncpg.Record]) -> list[BrandShare]:
    reported = {r["brand_letter"]: r for r in rows if r["by_brand"]}
    shares = []
    for letter, brand in study.spec.brands.items():
        row = reported.get(letter)
        shares.append(
            BrandShare(
                letter=letter,
                name=brand.name,
                own=brand.own,
                encounters=row["encounters"] if row else 0,
                positive=row["positive"] if row else 0,
                share_of_experience=_share(row, "share_of_experience", rows),
                share_of_positive_experience=_share(row, "share_of_positive_experience", rows),
                positivity=methods.mean(
                    row["encounters"] if row else 0,
                    row["positivity"] if row else None,
                    row["positivity_sd"] if row else None,
                    POSITIVITY_SCALE,
                ),
            )
        )
    return shares


def _share(row: asyncpg.Record | None, name: str, rows: list[asyncpg.Record]) -> float | None:
    """The brand's share; 0 for a brand nobody reported when there are encounters, null when there are none."""
    if row is not None:
        return None if row[name] is None else float(row[name])
    return 0.0 if any(r[name] is not None for r in rows if r["by_brand"]) else None


def _touchpoints(study: StoredStudy, rows: list[asyncpg.Record]) -> list[TouchpointPositivity]:
    return [
        TouchpointPositivity(
            brand=r["brand_letter"],
            touchpoint=r["touchpoint_letter"],
            touchpoint_key=study.spec.touchpoints[r["touchpoint_letter"]].touchpoint_key,
            touchpoint_name=study.spec.touchpoints[r["touchpoint_letter"]].name,
            encounters=r["encounters"],
            participants=r["participants"],
            positivity=methods.mean(r["encounters"], r["positivity"], r["positivity_sd"], POSITIVITY_SCALE),
            persuasiveness=methods.mean(
                r["encounters"], r["persuasiveness"], r["persuasiveness_sd"], POSITIVITY_SCALE
            ),
        )
        for r in rows
        if not r["by_brand"] and r["touchpoint_letter"] in study.spec.touchpoints
    ]


def _impact(study: StoredStudy, letter: str, row: asyncpg.Record | None) -> TouchpointImpact:
    touchpoint = study.spec.touchpoints[letter]
    n1, n2 = (row["n1"], row["n2"]) if row else (0, 0)
    mean1, mean2 = (_float(row["mean1"]), _float(row["mean2"])) if row else (None, None)
    return TouchpointImpact(
        touchpoint=letter,
        touchpoint_key=touchpoint.touchpoint_key,
        touchpoint_name=touchpoint.name,
        reporters=n1,
        others=n2,
        mean_change_reporters=mean1,
        mean_change_others=mean2,
        difference=methods.difference(
            n1, mean1, _float(row["sd1"]) if row else None, n2, mean2, _float(row["sd2"]) if row else None
        ),
    )


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


STUDY_METHODS: Final = Methods(
    **{
        **{f: getattr(methods.METHODS, f) for f in ("confidence", "nps", "mean", "proportion", "top_two_box")},
        "response_rate": "Not used by study statistics.",
        "latency": "Not used by study statistics.",
        "buckets": "Not used: a study's figures cover all of its reports.",
        "extra": {
            "share_of_experience": "A brand's encounters / all encounters reported in the study (every brand), in %.",
            "share_of_positive_experience": f"A brand's positive encounters / all positive encounters, in %; "
            f"positive: positivity {POSITIVE_FROM}–{POSITIVITY_SCALE[1]} of {POSITIVITY_SCALE[0]}–"
            f"{POSITIVITY_SCALE[1]} (the top two boxes).",
            "positivity": "Mean positivity and persuasiveness (1–5) with the t interval over encounters. Encounters "
            "of one participant are not independent, so the interval understates the uncertainty between "
            "participants.",
            "consideration": "Per participant: the first post-survey answer minus the first pre-survey answer to the "
            "consideration question (a scale question of that id, on one scale in both surveys). Mean change with "
            "the paired t interval (t with n − 1 degrees of freedom over the participants' changes).",
            "impact": "Per touchpoint: mean change of participants who reported at least one own-brand encounter at "
            "it minus that of participants who reported none there, with Welch's interval (t at the "
            "Welch–Satterthwaite degrees of freedom, rounded down); null with fewer than 2 participants in a group "
            "or no variance in both. An association, not an effect: participants choose their encounters.",
            "compliance": "As GET /v1/studies/{key}/participants shows it (responses.studies).",
        },
    }
)
