"""The customer timeline as one SQL query: every row of every table that records something between a customer and
the brand, as items of the same shape, for the timeline API (one customer, a page at a time) and the ``timelines``
export (all of a brand's customers, streamed a range of customers at a time).

`items_sql` returns a SELECT whose columns are `COLUMNS`:

- ``customer_id`` uuid: whose item it is;
- ``at`` timestamptz: when it happened;
- ``kind`` text: one of `KINDS`;
- ``kind_rank`` integer: the kind's position in `KINDS`, which orders items of the same instant in the order they
  happen in (a reply, then the consent it withdrew; an event, then its decision, then its invitation);
- ``item_id`` text: the item's id within its kind (a row id, or ``<row id>/<n>`` for the rows of a row), in the
  "C" collation, so that it sorts by its characters whatever the database's locale;
- ``invitation_id`` uuid, ``event_id`` uuid: the invitation and the touchpoint event it belongs to, where it does;
- ``detail`` jsonb: what the kind says (`research.timeline` documents each kind's members).

Items are unique and totally ordered by (customer_id, at, kind_rank, item_id): the API pages through one customer
on (at, kind_rank, item_id), the export orders by all four (`EXPORT_ORDER`).

Parameters, numbered the same in both forms so a caller can add its own after them:

- ``$1`` uuid: the brand;
- ``$2`` timestamptz or NULL: items at or after this time;
- ``$3`` timestamptz or NULL: items before this time;
- ``$4`` text[] or NULL: only these kinds (NULL: every kind);

and `items_sql`'s ``customers`` says whose items: ``= $5`` (one customer, the API), or a range of customer ids
(the export).

The kind and time filters are written once, around the union: PostgreSQL pushes them into every branch, where a
kind's test becomes a one-time filter (a kind not asked for reads nothing). Every branch starts from an index on
(brand_id, customer_id, …), for one customer or a range of them: events, invitations, inbound messages, consent
changes and study participants have one; the rest are reached from the customers' invitations or self-reports by
their own keys.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Kind = Literal[
    "inbound",
    "self_report",
    "event",
    "consent",
    "decision",
    "invitation",
    "invitation_status",
    "message",
    "receipt",
    "opened",
    "answer",
    "completed",
    "expired",
    "diary_comment",
]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
"""Every kind, in the order items of the same instant are listed."""

COLUMNS: Final = ("customer_id", "at", "kind", "kind_rank", "item_id", "invitation_id", "event_id", "detail")
EXPORT_ORDER: Final = "customer_id, at, kind_rank, item_id"
PAGE_ORDER: Final = "at, kind_rank, item_id"

# The locale customer `cu` reads questionnaire version `v` in, as questionnaires.locales.pick_locale chooses it (a
# test keeps the two equal), given the version's offered locales `o.offered` (OFFERED_LOCALES): the first of the
# customer's tag and its truncations (de-CH, de) that is offered, else the first offered locale of the same
# language, else the version's default. The offered locales are the default, then the declared `locales`, or else
# the title's translations (translations are complete, so the title has them all; definitions are stored as jsonb,
# so Python reads the title's keys in the order jsonb keeps them, as this does).
CUSTOMER_LOCALE = """
coalesce(
    (SELECT f.tag
     FROM unnest(string_to_array(cu.locale, '-')) WITH ORDINALITY AS p (part, n),
          LATERAL (SELECT array_to_string((string_to_array(cu.locale, '-'))[1:p.n], '-') AS tag) f
     WHERE f.tag = ANY (o.offered)
     ORDER BY p.n DESC LIMIT 1),
    (SELECT x.tag FROM unnest(o.offered) WITH ORDINALITY AS x (tag, n)
     WHERE split_part(x.tag, '-', 1) = split_part(cu.locale, '-', 1)
     ORDER BY x.n LIMIT 1),
    v.definition ->> 'default_locale')
"""

OFFERED_LOCALES = """
SELECT (v.definition ->> 'default_locale') || ARRAY(
    SELECT l FROM jsonb_array_elements_text(
        CASE WHEN v.definition ? 'locales' THEN v.definition -> 'locales'
             WHEN jsonb_typeof(v.definition -> 'title') = 'object'
             THEN to_jsonb(ARRAY(SELECT jsonb_object_keys(v.definition -> 'title')))
             ELSE '[]' END) AS l) AS offered
"""

# The question answer `a` answers, as the customer read it: its type, the locale, and its text in that locale (as
# questionnaires.locales.resolve, given the locale pick_locale chose). Its own subquery, parameterised by the answer's
# questionnaire version, question and the customer's locale only, so that PostgreSQL can compute it once for each of
# those (the plan's Memoize) instead of once for every answer of an export.
_ASKED = f"""
SELECT r.locale, q.type,
       CASE WHEN jsonb_typeof(q.text) = 'string' THEN q.text #>> '{{}}'
            ELSE coalesce(q.text ->> r.locale, q.text ->> (v.definition ->> 'default_locale'),
                          (SELECT t.value FROM jsonb_each_text(q.text) t LIMIT 1))
       END AS text
FROM questionnaire_versions v
CROSS JOIN LATERAL ({OFFERED_LOCALES}) o
CROSS JOIN LATERAL (SELECT {CUSTOMER_LOCALE} AS locale) r
LEFT JOIN LATERAL (
    SELECT qd -> 'text' AS text, qd ->> 'type' AS type
    FROM jsonb_array_elements(v.definition -> 'questions') qd
    WHERE qd ->> 'id' = a.question_id LIMIT 1
) q ON true
WHERE v.brand_id = a.brand_id AND v.key = a.questionnaire_key AND v.version = a.questionnaire_version
LIMIT 1
"""


class _Branch:
    """One kind's SELECT: where its rows come from (`source`, with ``{who}`` where the customer condition goes),
    the expressions of its columns, and its detail's members (name -> SQL expression)."""

    def __init__(
        self,
        source: str,
        *,
        customer: str,
        at: str,
        item_id: str,
        invitation_id: str = "NULL::uuid",
        event_id: str = "NULL::uuid",
        detail: dict[str, str],
    ) -> None:
        self.source, self.customer, self.at, self.item_id = source, customer, at, item_id
        self.invitation_id, self.event_id, self.detail = invitation_id, event_id, detail

    def sql(self, kind: Kind, rank: int, customers: str) -> str:
        who = f"AND {self.customer} {customers}"
        members = ", ".join(f"'{name}', {expression}" for name, expression in self.detail.items())
        return (
            f"SELECT {self.customer} AS customer_id, {self.at} AS at, '{kind}'::text AS kind, {rank} AS kind_rank, "
            f'({self.item_id}) COLLATE "C" AS item_id, {self.invitation_id} AS invitation_id, {self.event_id} AS event_id, '
            f"jsonb_build_object({members}) AS detail\n{self.source.replace('{who}', who)}"
        )


def _seq(number: str) -> str:
    """A row number as text that sorts as the number does (item ids are text)."""
    return f"lpad({number}::text, 19, '0')"


_EVENTS = "FROM events e WHERE e.brand_id = $1 {who}"
_INVITATIONS = "FROM invitations i WHERE i.brand_id = $1 {who}"
_OF_INVITATION = {"customer": "i.customer_id", "invitation_id": "i.invitation_id", "event_id": "i.event_id"}
_REPORTS = """FROM study_participants p
JOIN self_reports s ON s.brand_id = p.brand_id AND s.participant_id = p.participant_id"""


def _branches(personal: bool) -> dict[Kind, _Branch]:
    # The brand's name for an event is personal data too: brands name events by order or ticket numbers, which
    # lead back to the customer (exports treat it as contact data).
    own_words = "{}" if personal else "NULL::text"
    return {
        "inbound": _Branch(
            "FROM inbound_messages n WHERE n.brand_id = $1 {who}",
            customer="n.customer_id",
            at="n.received_at",
            item_id="n.inbound_id::text",
            invitation_id="n.invitation_id",
            detail={
                "channel": "n.channel",
                "provider": "n.provider",
                "outcome": "n.outcome",
                "conversation_id": "n.conversation_id",
                "body": own_words.format("n.body"),
            },
        ),
        "self_report": _Branch(
            _REPORTS + "\nJOIN studies st ON st.brand_id = p.brand_id AND st.study_id = p.study_id"
            "\nWHERE p.brand_id = $1 {who}",
            customer="p.customer_id",
            at="s.reported_at",
            item_id="s.report_id::text",
            event_id="s.event_id",
            detail={
                "study": "st.key",
                "brand_letter": "s.brand_letter",
                "brand_name": "s.brand_name",
                "own_brand": "s.own_brand",
                "touchpoint_letter": "s.touchpoint_letter",
                "touchpoint_key": "s.touchpoint_key",
                "touchpoint_name": "s.touchpoint_name",
                "positivity": "s.positivity",
                "persuasiveness": "s.persuasiveness",
                "comment": "s.comment",
                "inbound_id": "s.inbound_id",
            },
        ),
        "event": _Branch(
            _EVENTS,
            customer="e.customer_id",
            at="e.occurred_at",
            item_id="e.event_id::text",
            invitation_id="e.invitation_id",
            event_id="e.event_id",
            detail={
                "touchpoint": "e.touchpoint_key",
                "touchpoint_known": "e.touchpoint_known",
                "source": "e.source",
                "concerns_brand": "e.concerns_brand",
                "idempotency_key": own_words.format("e.idempotency_key"),
                "received_at": "e.received_at",
                "attributes": "e.attributes",
            },
        ),
        "consent": _Branch(
            "FROM consent_changes c WHERE c.brand_id = $1 {who}",
            customer="c.customer_id",
            at="c.changed_at",
            item_id=_seq("c.change_id"),
            detail={"channel": "c.channel", "granted": "c.granted", "source": "c.source"},
        ),
        "decision": _Branch(
            "FROM events e LEFT JOIN triggers t ON t.brand_id = e.brand_id AND t.trigger_id = e.trigger_id"
            "\nWHERE e.brand_id = $1 {who}",
            customer="e.customer_id",
            at="e.received_at",
            item_id="e.event_id::text",
            invitation_id="e.invitation_id",
            event_id="e.event_id",
            detail={
                "outcome": "e.outcome",
                "reason": "e.reason",
                "trigger": "t.key",
                "planned_at": "e.planned_at",
                "evaluations": "e.evaluations",
            },
        ),
        "invitation": _Branch(
            "FROM invitations i LEFT JOIN triggers t ON t.brand_id = i.brand_id AND t.trigger_id = i.trigger_id"
            "\nWHERE i.brand_id = $1 {who}",
            **_OF_INVITATION,
            at="i.created_at",
            item_id="i.invitation_id::text",
            detail={
                "trigger": "t.key",
                "questionnaire_key": "i.questionnaire_key",
                "questionnaire_version": "i.questionnaire_version",
                "channels": "i.channels",
                "planned_at": "i.planned_at",
                "send_by": "i.send_by",
                "expires_at": "i.expires_at",
            },
        ),
        "invitation_status": _Branch(
            "FROM invitations i"
            "\nJOIN invitation_transitions x ON x.brand_id = i.brand_id AND x.invitation_id = i.invitation_id"
            "\nWHERE i.brand_id = $1 {who}",
            **_OF_INVITATION,
            at="x.at",
            item_id=f"i.invitation_id::text || '/' || {_seq('x.seq')}",
            detail={"from_status": "x.from_status", "to_status": "x.to_status", "reason": "x.reason"},
        ),
        "message": _Branch(
            "FROM invitations i JOIN messages m ON m.brand_id = i.brand_id AND m.invitation_id = i.invitation_id"
            "\nWHERE i.brand_id = $1 {who}",
            **_OF_INVITATION,
            at="m.created_at",
            item_id="m.message_id::text",
            detail={
                "channel": "m.channel",
                "provider": "m.provider",
                "attempt": "m.attempt",
                "style": "m.style",
                "status": "m.status",
                "error_code": "m.error_code",
                "provider_message_id": "m.provider_message_id",
                "segments": "m.segments",
                "accepted_at": "m.accepted_at",
                "delivery_status": "m.delivery_status",
                "delivered_at": "m.delivered_at",
            },
        ),
        "receipt": _Branch(
            "FROM invitations i JOIN messages m ON m.brand_id = i.brand_id AND m.invitation_id = i.invitation_id"
            "\nJOIN message_receipts r ON r.brand_id = m.brand_id AND r.message_id = m.message_id"
            "\nWHERE i.brand_id = $1 {who}",
            **_OF_INVITATION,
            at="r.received_at",
            item_id="r.message_id::text || '/' || r.status",
            detail={"message_id": "r.message_id", "status": "r.status", "error_code": "r.error_code"},
        ),
        "opened": _Branch(
            _INVITATIONS + " AND i.opened_at IS NOT NULL",
            **_OF_INVITATION,
            at="i.opened_at",
            item_id="i.invitation_id::text",
            detail={"channel": "i.response_channel"},
        ),
        "answer": _Branch(
            f"""FROM invitations i
JOIN answers a ON a.brand_id = i.brand_id AND a.invitation_id = i.invitation_id
JOIN customers cu ON cu.brand_id = i.brand_id AND cu.customer_id = i.customer_id
LEFT JOIN LATERAL ({_ASKED}) q ON true
WHERE i.brand_id = $1 {{who}}""",
            **_OF_INVITATION,
            at="a.answered_at",
            item_id="a.answer_id::text",
            detail={
                "questionnaire_key": "a.questionnaire_key",
                "questionnaire_version": "a.questionnaire_version",
                "question_id": "a.question_id",
                "question_type": "q.type",
                "question_text": "q.text",
                "locale": "q.locale",
                "value": "a.value",
                "raw": own_words.format("a.raw"),
                "channel": "a.channel",
                "inbound_id": "a.inbound_id",
                "current": "a.replaced_at IS NULL",
                "replaced_at": "a.replaced_at",
                "replaced_reason": "a.replaced_reason",
            },
        ),
        "completed": _Branch(
            _INVITATIONS + " AND i.completed_at IS NOT NULL",
            **_OF_INVITATION,
            at="i.completed_at",
            item_id="i.invitation_id::text",
            detail={
                "end_reason": "i.end_reason",
                "seconds_after_contact": "extract(epoch FROM i.completed_after)",
            },
        ),
        "expired": _Branch(
            _INVITATIONS + " AND i.response_state = 'expired'",
            **_OF_INVITATION,
            at="i.expires_at",
            item_id="i.invitation_id::text",
            detail={"answered": "i.first_answer_at IS NOT NULL"},
        ),
        "diary_comment": _Branch(
            _REPORTS + "\nJOIN self_report_comments k ON k.brand_id = s.brand_id AND k.report_id = s.report_id"
            "\nWHERE p.brand_id = $1 {who}",
            customer="p.customer_id",
            at="k.written_at",
            item_id=f"s.report_id::text || '/' || {_seq('k.seq')}",
            event_id="s.event_id",
            detail={"report_id": "s.report_id", "comment": "k.comment"},
        ),
    }


def items_sql(*, customers: str, personal: bool) -> str:
    """The timeline's items as one unordered SELECT of `COLUMNS` (parameters ``$1``..``$4``: see the module).

    `customers`: whose items, as a condition on a customer id that follows it: ``= $5`` for the customer of ``$5``
    (the API), ``BETWEEN first AND last`` for a range (the export, which adds ``ORDER BY`` `EXPORT_ORDER`). Items
    that belong to no customer (a text from a phone no customer has) are nobody's timeline. `personal`: whether the
    customer's own words beyond their answers' values are included (inbound messages' bodies, answers' raw text),
    and the brand's idempotency keys of events, which exports treat as contact data; without it they are null.
    """
    branches = _branches(personal)
    union = "\nUNION ALL\n".join(branches[kind].sql(kind, rank, customers) for rank, kind in enumerate(KINDS))
    return f"""SELECT {", ".join(COLUMNS)} FROM (
{union}
) items
WHERE ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3)
  AND ($4::text[] IS NULL OR kind = ANY ($4))"""
