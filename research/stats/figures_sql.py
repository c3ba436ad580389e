"""The SQL of the touchpoint figures: two statements over the same contacts — counts, minutes and outcomes;
scores — each one pass with GROUPING SETS giving every group per bucket, every group over the range, all groups
per bucket and all over the range.

A contact is an event of the range (``events_by_time``) with the invitation it scheduled, if any; every figure
of a bucket counts its contacts and what followed from them. Parameters, shared by the two:

    $1 brand_id, $2 from, $3 to, $4 bucket unit ('day' | 'week'), $5 time zone,
    $6 touchpoint key, $7 trigger key, $8 questionnaire key (each NULL for all)

Group rows come out with ``grp`` '' and ``grp_version`` 0 for "none" (keys are never empty), so that the
grid's join is on plain equalities; a row of the overall group has ``overall`` true, a row over the whole range
has ``local_start`` NULL.
"""

from __future__ import annotations

from typing import Final

from research.stats.model import Dimension
from research.stats.scales import SCALES_SQL
from triggers.events import MAX_FUTURE

WORK_MEM: Final = "64MB"
"""Sort memory for the statistics' transaction: the percentiles and grouping sets sort every contact of the
range, which spills to disk at the default 4MB from ~30k contacts on."""

GROUP_BY: Final[dict[Dimension, tuple[str, str]]] = {
    "touchpoint": ("e.touchpoint_key", "NULL::int"),
    "trigger": ("e.trigger_id::text", "NULL::int"),
    "questionnaire": ("i.questionnaire_key", "i.questionnaire_version"),
}
"""The group key and version of a contact, per dimension."""

# The invitation has the event's occurred_at, so the same range lets the planner read the range's invitations by
# time and hash them rather than look each one up. Answers and messages come after the contact, and at most
# MAX_FUTURE before its occurred_at (the clock skew events may have).
_CONTACTS = """
contacts AS (
    SELECT {group} AS grp, {version} AS grp_version, date_trunc($4, e.occurred_at AT TIME ZONE $5) AS local_start,
           e.outcome, e.reason, e.invitation_id, i.status, i.status_reason,
           i.first_answer_at IS NOT NULL AS started, i.response_state = 'completed' AS completed,
           extract(epoch FROM i.first_answer_after)::float8 / 60 AS to_first_answer,
           extract(epoch FROM i.completed_after)::float8 / 60 AS to_completion
    FROM events e
    LEFT JOIN invitations i ON i.brand_id = e.brand_id AND i.invitation_id = e.invitation_id
                           AND i.occurred_at >= $2 AND i.occurred_at < $3
    WHERE e.brand_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
      AND ($6::text IS NULL OR e.touchpoint_key = $6)
      AND ($7::text IS NULL OR e.trigger_id = (SELECT t.trigger_id FROM triggers t WHERE t.brand_id = $1 AND t.key = $7))
      AND ($8::text IS NULL OR i.questionnaire_key = $8)
)"""

_SETS = "GROUPING SETS ((grp, grp_version, local_start{0}), (grp, grp_version{0}), (local_start{0}), ({1}))"

_KEYS = """
    GROUPING(grp, grp_version) <> 0 AS overall, coalesce(grp, '') AS grp, coalesce(grp_version, 0) AS grp_version,
    {local_start} AS local_start"""
_GRID_KEYS = _KEYS.format(local_start="coalesce(local_start, '-infinity')")
"""Cell keys for the grid's join: the whole range is '-infinity' there (and NULL in the rows returned)."""

_SKEW = f"interval '{int(MAX_FUTURE.total_seconds())} seconds'"

# The buckets: every day or week of the range in the time zone, cut to the range.
_BUCKETS = """
buckets AS (
    SELECT local_start, greatest(local_start AT TIME ZONE $5, $2) AS starts,
           least((local_start + ('1 ' || $4)::interval) AT TIME ZONE $5, $3) AS ends
    FROM generate_series(date_trunc($4, $2 AT TIME ZONE $5), $3 AT TIME ZONE $5, ('1 ' || $4)::interval) AS local_start
    WHERE local_start < $3 AT TIME ZONE $5
)"""

_COUNTS = f"""
WITH {_BUCKETS},{_CONTACTS},
delivered AS (
    SELECT DISTINCT m.invitation_id
    FROM messages m
    WHERE m.brand_id = $1 AND m.delivered_at IS NOT NULL AND m.created_at >= $2 - {_SKEW}
      AND m.invitation_id IN (SELECT invitation_id FROM invitations
                              WHERE brand_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND status = 'sent')
),
cells AS (
    SELECT {_GRID_KEYS},
           count(*) AS events,
           count(c.invitation_id) AS invitations,
           count(*) FILTER (WHERE c.status = 'sent') AS sends,
           count(d.invitation_id) AS deliveries,
           count(*) FILTER (WHERE c.started) AS started,
           count(*) FILTER (WHERE c.completed) AS responses,
           count(c.to_first_answer) AS first_answer_n,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY c.to_first_answer) AS first_answer,
           count(c.to_completion) AS completion_n,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY c.to_completion) AS completion
    FROM contacts c LEFT JOIN delivered d ON d.invitation_id = c.invitation_id
    GROUP BY {_SETS.format("", "")}
),
-- Why not surveyed, and which invitations ended unsent, as one list per cell, most frequent first.
why AS (
    SELECT {_GRID_KEYS}, kind, reason, count(*) AS count
    FROM (
        SELECT grp, grp_version, local_start,
               CASE WHEN outcome = 'not_surveyed' THEN 'not_surveyed' ELSE status END AS kind,
               CASE WHEN outcome = 'not_surveyed' THEN reason ELSE status_reason END AS reason
        FROM contacts
        WHERE outcome = 'not_surveyed' OR status IN ('suppressed', 'expired', 'failed', 'cancelled')
    ) unsurveyed
    GROUP BY {_SETS.format(", kind, reason", "kind, reason")}
),
whys AS (
    SELECT overall, grp, grp_version, local_start,
           jsonb_agg(jsonb_build_object('kind', kind, 'reason', reason, 'count', count)
                     ORDER BY count DESC, kind, reason) AS why
    FROM why
    GROUP BY overall, grp, grp_version, local_start
),
groups AS (
    SELECT DISTINCT overall, grp, grp_version FROM cells WHERE overall OR grp <> ''
    UNION SELECT true, '', 0
),
slots AS (
    SELECT local_start, starts, ends FROM buckets
    UNION ALL SELECT '-infinity', $2, $3
)
SELECT g.overall, g.grp, g.grp_version, nullif(s.local_start, '-infinity') AS local_start, s.starts, s.ends,
       coalesce(c.events, 0) AS events, coalesce(c.invitations, 0) AS invitations, coalesce(c.sends, 0) AS sends,
       coalesce(c.deliveries, 0) AS deliveries, coalesce(c.started, 0) AS started,
       coalesce(c.responses, 0) AS responses,
       coalesce(c.first_answer_n, 0) AS first_answer_n, c.first_answer[1] AS first_answer_median,
       c.first_answer[2] AS first_answer_p90, coalesce(c.completion_n, 0) AS completion_n,
       c.completion[1] AS completion_median, c.completion[2] AS completion_p90, coalesce(w.why, '[]') AS why
FROM groups g CROSS JOIN slots s
LEFT JOIN cells c ON c.overall = g.overall AND c.grp = g.grp AND c.grp_version = g.grp_version
                 AND c.local_start = s.local_start
LEFT JOIN whys w ON w.overall = g.overall AND w.grp = g.grp AND w.grp_version = g.grp_version
                AND w.local_start = s.local_start
ORDER BY g.overall DESC, g.grp, g.grp_version, s.local_start
"""

_QUESTION = "questionnaire_key, question_id, type, low, high"

_SCORES = f"""
WITH scales AS ({SCALES_SQL.format("$9", "$10", "$11", "$12", "$13", "$14", "$15")}),{_CONTACTS},
scored AS (
    SELECT c.grp, c.grp_version, c.local_start, s.questionnaire_key, s.question_id, s.type, s.low, s.high,
           s.top_from, CASE WHEN jsonb_typeof(a.value) = 'number' THEN a.value::numeric END AS v
    FROM contacts c
    JOIN answers a ON a.brand_id = $1 AND a.invitation_id = c.invitation_id AND a.replaced_at IS NULL
                  AND a.answered_at >= $2 - {_SKEW}
    JOIN scales s ON s.questionnaire_key = a.questionnaire_key AND s.questionnaire_version = a.questionnaire_version
                 AND s.question_id = a.question_id
),
-- Off-scale values (none are stored, but a score must not trust that) count nowhere, as in questionnaires.scores.
-- They are filtered in the aggregates, not in WHERE: the planner cannot estimate a filter on a jsonb value, and
-- took the answers for a handful of rows.
valid AS (SELECT *, v BETWEEN low AND high AND v = trunc(v) AS on_scale FROM scored)
SELECT {_KEYS.format(local_start="local_start")}, GROUPING(questionnaire_key) <> 0 AS by_type, {_QUESTION},
       count(*) FILTER (WHERE on_scale) AS n, (avg(v) FILTER (WHERE on_scale))::float8 AS mean,
       (stddev_samp(v) FILTER (WHERE on_scale))::float8 AS sd,
       count(*) FILTER (WHERE on_scale AND v >= top_from) AS top,
       count(*) FILTER (WHERE on_scale AND v >= $16) AS promoters,
       count(*) FILTER (WHERE on_scale AND v <= $17) AS detractors
FROM valid
GROUP BY GROUPING SETS (
    (grp, grp_version, local_start, {_QUESTION}), (grp, grp_version, {_QUESTION}), (local_start, {_QUESTION}),
    ({_QUESTION}), (grp, grp_version, local_start, type), (grp, grp_version, type), (local_start, type), (type)
)
"""


def statements(by: Dimension) -> tuple[str, str]:
    """The counts with the not-surveyed and unsent outcomes (a dense grid: every group × every bucket and the
    range), and the scores, for contacts grouped `by`."""
    group, version = GROUP_BY[by]
    return tuple(  # type: ignore[return-value]
        sql.replace("{group}", group).replace("{version}", version) for sql in (_COUNTS, _SCORES)
    )
